"""The sources import-all can run, by provider name: adding one is one line in SOURCES.

A source opens its client from its own settings and yields an `ImportOne` (service_layer/import_all.py):
one establishment and year, committed, returning its report. Missing settings or an absent importer give
SourceUnavailable, with a message naming what is missing (never a value).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from aplypro_contracts.topics import STUDENTS_EVENTS
from pydantic import ValidationError

from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_all import ImportOne
from aplypro_students.service_layer.import_sygne import in_summer_freeze


class SourceUnavailable(LookupError):
    code = "source_unavailable"


Opener = Callable[[StudentsSettings, asyncpg.Pool], AbstractAsyncContextManager[ImportOne]]


@dataclass(frozen=True)
class Source:
    name: str  # the establishments' students provider it serves
    open: Opener
    frozen: Callable[[date], bool] = lambda today: False  # no nightly run on these days


def _missing(prefix: str, exc: ValidationError) -> SourceUnavailable:
    names = sorted({prefix + str(e["loc"][0]).upper() for e in exc.errors() if e["loc"]})
    return SourceUnavailable(f"settings missing or invalid: {', '.join(names) or prefix + '*'}")


@asynccontextmanager
async def _sygne(settings: StudentsSettings, pool: asyncpg.Pool) -> AsyncIterator[ImportOne]:
    from aplypro_students.adapters.sygne.client import SygneClient
    from aplypro_students.adapters.sygne.settings import SygneSettings
    from aplypro_students.service_layer.import_sygne import import_sygne

    try:
        sygne = SygneSettings()  # filled from the environment
    except ValidationError as exc:
        raise _missing("APLYPRO_SYGNE_", exc) from None
    topic = settings.topic(STUDENTS_EVENTS)

    async with SygneClient(sygne) as api:
        async def one(uai: str, school_year: int, *, today: date) -> dict[str, Any]:
            # the freeze is checked once for the run (Source.frozen), not recorded per establishment; the
            # details are queued for the service's detail lane (imports.md §9: the run is list-bound)
            report = await import_sygne(pool, api, uai, school_year, today=today, topic=topic, summer_freeze=False,
                                        concurrency=sygne.concurrency, mode=settings.import_mode,
                                        max_departure_share=settings.mass_departure_share, defer_details=True)
            return report.as_dict() | report.run_counts()  # the printed line lacks what import-all totals

        yield one


@asynccontextmanager
async def _fregata(settings: StudentsSettings, pool: asyncpg.Pool) -> AsyncIterator[ImportOne]:
    try:  # the FREGATA importer may be absent from this version: refused with a clear message
        from aplypro_students.adapters.fregata.client import FregataClient  # type: ignore[import-not-found,unused-ignore]
        from aplypro_students.adapters.fregata.settings import (  # type: ignore[import-not-found,unused-ignore]
            FregataSettings,
        )
        from aplypro_students.service_layer.import_fregata import (  # type: ignore[import-not-found,unused-ignore]
            import_fregata,
        )
    except ImportError:
        raise SourceUnavailable("no fregata importer in this version; available: sygne") from None
    try:
        fregata = FregataSettings()
    except ValidationError as exc:
        raise _missing("APLYPRO_FREGATA_", exc) from None
    topic = settings.topic(STUDENTS_EVENTS)

    async with FregataClient(fregata) as api:
        async def one(uai: str, school_year: int, *, today: date) -> dict[str, Any]:
            report = await import_fregata(pool, api, uai, school_year, today=today, topic=topic)
            return dict(report.as_dict()) | report.run_counts()

        yield one


def _sygne_frozen(today: date) -> bool:
    from aplypro_students.adapters.sygne.settings import SygneSettings

    try:
        return SygneSettings().summer_freeze and in_summer_freeze(today)
    except ValidationError:
        return False  # opening the source reports the missing settings


SOURCES: dict[str, Source] = {
    "sygne": Source("sygne", _sygne, _sygne_frozen),
    "fregata": Source("fregata", _fregata),  # no summer freeze: §3.1's is SYGNE's
}


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise SourceUnavailable(f"no {name} importer in this version; available: {', '.join(sorted(SOURCES))}"
                                ) from None
