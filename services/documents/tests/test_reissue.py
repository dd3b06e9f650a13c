"""Reissue of the décisions d'attribution (documents.md §4, §6; lifecycles.md §3), on the real PostgreSQL,
rendered for real: version n + 1 beside the old one, an unchanged DA skipped, version 9 the last."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import (
    DecisionWithdrawalRequested,
    SchoolingPriced,
    StudentAddressChanged,
    StudentRegistered,
)
from aplypro_documents.domain.numbering import pfmp_number
from aplypro_documents.entrypoints.cli import app
from aplypro_documents.service_layer.reissue import request_reissue
from aplypro_documents.service_layer.render import IssueThenRender
from typer.testing import CliRunner, Result

from .conftest import (
    UAI,
    Feed,
    announced,
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


async def invoke(args: list[str], database_url: str, namespace: str) -> Result:
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


async def enrolled(feed: Feed, issuer: IssueThenRender, name: str = "Lambert") -> tuple[uuid.UUID, uuid.UUID]:
    """A student with one open schooling of 2025-26 and its DA issued (version 1)."""
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of(name, "Inès")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    return student_id, schooling_id


def new_bareme(student_id: uuid.UUID, schooling_id: uuid.UUID) -> SchoolingPriced:
    return SchoolingPriced(producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025,
                           priced=True, daily_rate_cents=2000, yearly_cap_cents=80000)


async def queue_rows(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM render_queue"))


async def test_a_reissue_after_a_change_issues_version_2_beside_version_1(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, database_url: str, namespace: str
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    (v1,) = await documents_of(pool, schooling_id)
    # The barème and the student's address change after issue.
    moved = identity_of("Lambert", "Inès").model_copy(update={"address": identity_of("x", "y").address.model_copy(
        update={"lines": ("12 rue de la Reissue",)})})  # fmt: skip
    await feed(new_bareme(student_id, schooling_id),
               StudentAddressChanged(producer="students", version=2, changed=("address",), student_id=student_id,
                                     identity=moved))
    assert await issuer.issue_batch() == 0  # a change alone reissues nothing: the director decides

    result = await invoke(["reissue", "--uai", UAI, "--school-year", "2025"], database_url, namespace)
    assert result.exit_code == 0, result.output
    assert "1 décisions d'attribution queued for reissue" in result.stdout
    assert await issuer.issue_batch() == 1

    old, new = await documents_of(pool, schooling_id)
    assert old == v1  # the old row stays as it was
    assert (new["version"], new["number"]) == (2, v1["number"][:-1] + "2")
    assert Path(old["storage_ref"]).is_file()
    assert Path(new["storage_ref"]).is_file()
    assert old["storage_ref"] != new["storage_ref"]
    old_text, new_text = pdf_text(old["storage_ref"]), pdf_text(new["storage_ref"])
    assert not missing(old_text, f"{v1['number']} (version 1)", "1 place Bellecour", "15 €")
    assert not missing(new_text, f"{new['number']} (version 2)", "12 rue de la Reissue", "20 €")
    assert "(version 1)" not in new_text
    assert "(version 2)" not in old_text
    ready = [(e["number"], e["version"], e["sha256"]) for e in await announced(pool) if e["kind"] == "attribution"]
    assert ready == [(v1["number"], 1, v1["sha256"]), (new["number"], 2, new["sha256"])]
    assert await queue_rows(pool) == 0


async def test_an_identical_reissue_issues_nothing(feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool) -> None:
    _, schooling_id = await enrolled(feed, issuer)
    before = await announced(pool)
    request = await request_reissue(pool, uai=UAI, school_year=2025, schooling_id=schooling_id)
    assert request.queued == [schooling_id]
    assert await issuer.issue_batch() == 1  # taken, and skipped
    assert issuer.unchanged == 1
    assert [d["version"] for d in await documents_of(pool, schooling_id)] == [1]
    assert await announced(pool) == before
    assert await queue_rows(pool) == 0


async def test_a_reissue_past_version_9_is_refused_with_version_limit_reached(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    (v1,) = await documents_of(pool, schooling_id)
    async with pool.acquire() as conn:  # versions 2 to 9, as eight earlier reissues left them
        for version in range(2, 10):
            await conn.execute(
                "INSERT INTO documents (document_id, kind, schooling_id, number, version, storage_ref, sha256, "
                "size_bytes, input_sha256) VALUES ($1, 'attribution', $2, $3, $4, 'elsewhere', 'x', 1, $5)",
                uuid.uuid4(), schooling_id, v1["number"][:-1] + str(version), version, f"earlier-{version}")
    await feed(new_bareme(student_id, schooling_id))
    request = await request_reissue(pool, uai=UAI, school_year=2025)
    assert request.queued == request.at_limit == [schooling_id]
    assert await issuer.issue_batch() == 1

    assert max(d["version"] for d in await documents_of(pool, schooling_id)) == 9  # no tenth, nothing capped
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload, headers FROM outbox WHERE topic LIKE '%.dlt'")
    assert [json.loads(r["payload"])["schooling_id"] for r in rows] == [str(schooling_id)]
    assert json.loads(rows[0]["headers"])["dlt-reason-code"] == "version_limit_reached"
    assert await queue_rows(pool) == 0


async def test_pfmp_numbers_stay_and_final_decisions_are_not_reissued(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, database_url: str, namespace: str
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    (v1,) = await documents_of(pool, schooling_id)
    pfmp_id = uuid.uuid4()
    await feed(rib(student_id), pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6),
                                               date(2025, 10, 17)), payment(student_id, schooling_id, pfmp_id, 1, 15000))
    assert await issuer.issue_batch() == 1
    await feed(new_bareme(student_id, schooling_id))
    await request_reissue(pool, uai=UAI, school_year=2025)
    assert await issuer.issue_batch() == 1
    # A new payment request after the reissue: the état liquidatif names the new DA, the PFMP keeps its number.
    await feed(payment(student_id, schooling_id, pfmp_id, 1, 12000))
    assert await issuer.issue_batch() == 1
    liquidation = [d for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"][-1]
    assert (liquidation["number"], liquidation["version"]) == (v1["number"][:-1] + "2", 2)
    assert f"{pfmp_number(v1['number'], 1)} (v2)" in pdf_text(liquidation["storage_ref"])
    # Each état liquidatif announces the PFMP number it printed, the asp-gateway sends exactly that one (§4).
    announcements = [e for e in await announced(pool) if e["kind"] == "liquidation" and e["schooling_id"] ==
                     str(schooling_id)]
    assert [e["pfmp_numbers"] for e in announcements] == [
        [{"pfmp_id": str(pfmp_id), "number": pfmp_number(v1["number"], 1)}]] * 2
    assert all(e["pfmp_numbers"] == [] for e in await announced(pool) if e["kind"] == "attribution")

    # A withdrawn DA is final: the reissue leaves it out; a schooling without a DA is refused.
    other_student, other = await enrolled(feed, issuer, name="Moreau")
    await feed(DecisionWithdrawalRequested(producer="pfmp", schooling_id=other, student_id=other_student,
                                           reason="never_attended", requested_by="director"))
    request = await request_reissue(pool, uai=UAI, school_year=2025)
    assert (request.queued, request.final) == ([schooling_id], [other])
    unknown = await invoke(["reissue", "--uai", UAI, "--school-year", "2025", "--schooling", str(uuid.uuid4())],
                           database_url, namespace)
    assert unknown.exit_code == 1
    assert "has no décision d'attribution issued" in unknown.stderr
