"""A school whose students come from SYGNE (imports.md §3.1), as most schools' will: the fake SYGNE serves
its sample establishment (awkward cases included) over real HTTP and `aplypro-students import-sygne` imports
it through the same normaliser and reconciliation as a CSV file. Used by `aplypro demo` and `aplypro up`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .fake_sygne.sample import sample_state
from .fake_sygne.server import FakeSygneServer, serve
from .school import SCHOOL_YEAR, SYGNE_UAI
from .stack import LocalStack


class SygneImportFailed(RuntimeError):
    pass


@contextmanager
def fake_sygne_for(stack: LocalStack) -> Iterator[FakeSygneServer]:
    """The fake SYGNE serving the SYGNE school, and the stack's commands pointed at it while it runs."""
    with serve(sample_state(uai=SYGNE_UAI)) as sygne:
        stack.env.update(sygne.env())
        yield sygne


def import_sygne_school(stack: LocalStack) -> dict[str, Any]:
    """`import-sygne` of the SYGNE school (its establishment and MEFs loaded already): the JSON summary."""
    args = ["aplypro-students", "import-sygne", "--uai", SYGNE_UAI, "--school-year", str(SCHOOL_YEAR)]
    result = stack.run_command(args)
    if result.returncode != 0:
        raise SygneImportFailed(f"`{' '.join(args[:2])}` failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def import_line(summary: dict[str, Any]) -> str:
    """One line: what the import did, the skipped and refused students counted by reason (never an INE)."""
    reasons: dict[str, int] = {}
    for item in [*summary.get("skipped", []), *summary.get("errors", [])]:
        reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    return (f"{summary['students']} students, {summary['schoolings_opened']} schoolings opened, "
            f"{summary['schoolings_closed']} closed; set aside: "
            + (", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "none"))
