"""Operator commands for duplicate students (imports.md §5.8): `review-items` lists what imports left for a
person, `merge-students` merges two stored students found to be one (registered on the main CLI app)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any
from uuid import UUID

import typer
from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.logs import configure_logging

from aplypro_students.adapters.postgres_merge import open_review_items
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.merge import MergeRefused
from aplypro_students.entrypoints._db import in_transaction
from aplypro_students.service_layer.merge_students import merge_students


def _settings() -> StudentsSettings:
    settings = StudentsSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    return settings


def review_items() -> None:
    """The open review items, one JSON line each (`possible_duplicate`: the student an import created and the
    stored one it looks like; ids only). Resolve one with `merge-students` (or leave it: two people)."""

    async def work(conn: Connection) -> list[dict[str, Any]]:
        return await open_review_items(conn)

    for item in asyncio.run(in_transaction(_settings(), work)):
        typer.echo(json.dumps(item, default=str))


def merge_students_command(
    survivor_id: Annotated[UUID, typer.Argument(help="The student who remains (the one with an open schooling).")],
    merged_id: Annotated[UUID, typer.Argument(help="The student merged into it (kept as a tombstone).")],
    by: Annotated[str, typer.Option("--by", help="Who merges (user id): the audit record.")],
    dry_run: Annotated[bool, typer.Option(help="Print what would move; write and publish nothing.")] = False,
) -> None:
    """Merge two stored students who are one person (same normalised names, birth date and birth city): the
    merged student's schoolings and RIBs move to the survivor, which takes its INE if its own is a placeholder;
    StudentsMerged and the moved schoolings' events are published. Without an open schooling on either side,
    the order given decides the survivor (payments are not known here). Refused: `code: message`, exit 2."""
    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        report = await merge_students(conn, survivor_id, merged_id, by=by, topic=settings.topic(STUDENTS_EVENTS),
                                      ribs_topic=settings.topic(STUDENTS_RIBS), dry_run=dry_run)
        return report.as_dict()

    try:
        typer.echo(json.dumps(asyncio.run(in_transaction(settings, work))))
    except MergeRefused as exc:
        typer.echo(f"{exc.code}: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("review-items")(review_items)
    app.command("merge-students")(merge_students_command)
