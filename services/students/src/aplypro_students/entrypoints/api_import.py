"""What `import-sygne` and `import-fregata` print: the settings check, progress lines and a failed run's summary."""

from __future__ import annotations

from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from aplypro_students.service_layer.import_report import summary_line

S = TypeVar("S", bound=BaseSettings)


def api_settings(cls: type[S], prefix: str) -> S:
    """The settings from the environment, or exit 2 naming what is missing or wrong (never a value)."""
    try:
        return cls()
    except ValidationError as exc:
        for err in exc.errors():
            name = prefix + str(err["loc"][0]).upper() if err["loc"] else f"{prefix}*"
            typer.echo(f"{name}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


def failed_line(source: str, uai: str, school_year: int, code: str, reason: str) -> dict[str, Any]:
    """The summary of a run that failed before importing: zero counts, the code in `errors`; reason on stderr."""
    typer.echo(f"{uai}: {code}: {reason}", err=True)  # exceptions name a path template, never an INE
    return summary_line(source, uai, school_year, {}, [], [{"reason": code}])


def progress(n: int, total: int, report: dict[str, Any], seconds: float) -> str:
    """`[n/N] UAI: …` for stderr: counts only, never an INE."""
    return (f"[{n}/{total}] {report['uai']}: {report['students']} students, {report['schoolings_opened']} opened, "
            f"{report['schoolings_closed']} closed, {report['class_changes']} class changes, "
            f"{len(report['skipped'])} skipped, {len(report['errors'])} errors ({seconds:.1f} s)")
