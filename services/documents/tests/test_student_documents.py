"""`aplypro-documents student SCHOOLING_ID --kind K`: each issued document of one student, re-rendered from the
real PostgreSQL through the CLI, says what the issued PDF says."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import DecisionWithdrawalRequested, Establishment, StudentRegistered
from aplypro_documents.domain.numbering import pfmp_number
from aplypro_documents.entrypoints.cli import app
from aplypro_documents.rendering.formatting import long_date, short_date
from aplypro_documents.service_layer.content import PARIS
from aplypro_documents.service_layer.render import IssueThenRender
from typer.testing import CliRunner, Result

from .conftest import (
    Clock,
    Feed,
    documents_of,
    identity_of,
    missing,
    payment,
    pdf_text,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
)

pytestmark = pytest.mark.integration
OTHER_SCHOOL = Establishment(uai="0690002B", name="Lycée professionnel de l'autre rive", head_name="Paul Rive")
TITLES = {
    "attribution": "DÉCISION D'ATTRIBUTION ANNUELLE",
    "abrogation": "ABROGATION DE DÉCISION D'ATTRIBUTION ANNUELLE",
    "withdrawal": "RETRAIT DE LA DÉCISION D'ATTRIBUTION",
    "liquidation": "ETAT LIQUIDATIF",
}


@dataclass(frozen=True)
class History:
    student_id: uuid.UUID
    first: uuid.UUID  # attribution, état liquidatif, abrogation
    second: uuid.UUID  # attribution, retrait
    env: dict[str, str]


async def invoke(args: list[str], env: dict[str, str]) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


@pytest.fixture
async def history(feed: Feed, issuer: IssueThenRender, database_url: str, namespace: str) -> History:
    """One student's year, every kind of document issued by the service's own issuer."""
    student_id, first, second, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Enrolled in September with a bank account: the DA.
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of("Lambert", "Inès")),
               schooling_opened(student_id, first, start=date(2025, 9, 1)), priced(student_id, first),
               rib(student_id))  # fmt: skip
    assert await issuer.issue_batch() == 1
    # A PFMP validated and requested for payment: the état liquidatif.
    await feed(pfmp_validated(student_id, first, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(student_id, first, pfmp_id, 1, 15000))  # fmt: skip
    assert await issuer.issue_batch() == 1
    # Moved to another establishment in January: the new schooling's DA and the old one's abrogation.
    await feed(schooling_opened(student_id, second, start=date(2026, 1, 5), school=OTHER_SCHOOL),
               priced(student_id, second),
               schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 1, 4)))  # fmt: skip
    assert await issuer.issue_batch() == 2
    # Never came to the new one: its director withdraws the new DA.
    await feed(DecisionWithdrawalRequested(producer="pfmp", schooling_id=second, student_id=student_id,
                                           reason="never_attended", requested_by="director-2"))  # fmt: skip
    assert await issuer.issue_batch() == 1
    return History(student_id, first, second, {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace})


def as_issued_on(text: str, clock: Clock, issued: dict[str, Any]) -> str:
    """The stored text dated as the CLI dates it: on the day its row was recorded, not on the tests' clock."""
    recorded = issued["created_at"].astimezone(PARIS).date()
    return text.replace(short_date(clock.today), short_date(recorded)).replace(
        long_date(clock.today), long_date(recorded))  # fmt: skip


@pytest.mark.parametrize(("kind", "of"), [("attribution", "first"), ("liquidation", "first"),
                                          ("abrogation", "first"), ("withdrawal", "second")])  # fmt: skip
async def test_the_student_command_re_renders_each_kind_with_its_issued_number_and_version(
    history: History, pool: asyncpg.Pool, clock: Clock, tmp_path: Path, kind: str, of: str
) -> None:
    schooling_id = getattr(history, of)
    (issued,) = [d for d in await documents_of(pool, schooling_id) if d["kind"] == kind]
    out = tmp_path / f"{kind}.pdf"
    result = await invoke(["student", str(schooling_id), "--kind", kind, "--out", str(out)], history.env)
    assert result.exit_code == 0, result.output
    assert "(version 1)" in result.stdout

    text, number = pdf_text(str(out)), issued["number"]
    # The DA's number carries its version digit; the état liquidatif shows its own version as (vN).
    marker = {"attribution": f"{number} (version 1)", "abrogation": "abrogation (version 1)",
              "withdrawal": f"{number} (version 1)", "liquidation": f"{pfmp_number(number, 1)} (v1)"}[kind]  # fmt: skip
    assert not missing(text, TITLES[kind], "LAMBERT Inès", number, marker)
    # Word for word what the service issued and stored (the fast path), dated on the day it was issued.
    assert sorted(text.split()) == sorted(as_issued_on(pdf_text(issued["storage_ref"]), clock, issued).split())


async def test_the_latest_etat_liquidatif_is_rendered_and_one_overtaken_by_a_new_request_is_refused(
    history: History, feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    second_pfmp = uuid.uuid4()
    await feed(pfmp_validated(history.student_id, history.first, second_pfmp, 2, date(2025, 11, 3), date(2025, 11, 14)),
               payment(history.student_id, history.first, second_pfmp, 2, 12000))  # fmt: skip
    assert await issuer.issue_batch() == 1
    args = ["student", str(history.first), "--kind", "liquidation", "--out", str(tmp_path / "v2.pdf")]
    result = await invoke(args, history.env)
    assert result.exit_code == 0, result.output
    (da,) = [d for d in await documents_of(pool, history.first) if d["kind"] == "attribution"]
    assert not missing(pdf_text(str(tmp_path / "v2.pdf")), f"{pfmp_number(da['number'], 1)} (v2)",
                       f"{pfmp_number(da['number'], 2)} (v2)", "150 €", "120 €")  # fmt: skip

    # A new amount the renderer has not issued yet: version 2 no longer says what the data says.
    await feed(payment(history.student_id, history.first, second_pfmp, 2, 9000))
    stale = await invoke([*args[:-1], str(tmp_path / "stale.pdf")], history.env)
    assert stale.exit_code == 1
    assert "version 2 no longer matches its inputs" in stale.stderr
    assert not (tmp_path / "stale.pdf").exists()


async def test_a_kind_never_issued_for_the_schooling_is_refused(history: History, tmp_path: Path) -> None:
    never = [(history.second, "abrogation", "abrogation"), (history.second, "liquidation", "état liquidatif"),
             (history.first, "withdrawal", "retrait")]  # fmt: skip
    for schooling_id, kind, label in never:
        out = tmp_path / f"{kind}.pdf"
        result = await invoke(["student", str(schooling_id), "--kind", kind, "--out", str(out)], history.env)
        assert result.exit_code == 1, (kind, result.output)
        assert f"has no {label} issued" in result.stderr
        assert not out.exists()
    unknown = await invoke(["student", str(uuid.uuid4()), "--kind", "abrogation", "--out", str(tmp_path / "x.pdf")],
                           history.env)  # fmt: skip
    assert unknown.exit_code == 1
    assert "is unknown" in unknown.stderr
