"""The address-correction file end to end (asp-exchange.md §4.9, §5.5, §9.2, §10): `aplypro-asp-gateway
correction-file --pfmp ...` builds it from the PFMPs' latest requests, RNVP (the fake, over real HTTP) normalises
the students living in France, our XSD validates it, it reaches the fake ASP's drop folder exactly once over SFTP
and counts in the day's file cap; `poll` matches the answers to it by name and reports every mismatch and reject;
no payment request moves."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.adapters.rnvp import HttpRnvp
from aplypro_asp_gateway.adapters.sftp import SftpSession
from aplypro_asp_gateway.adapters.transport import TransportFailed
from aplypro_asp_gateway.entrypoints.cli import app
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import build_payment_file
from aplypro_asp_gateway.service_layer.corrections import send_correction_file
from aplypro_contracts import PaymentRequested
from aplypro_local.fake_asp import Behaviour
from aplypro_local.fake_rnvp import FakeRnvpState, serve
from lxml import etree
from typer.testing import CliRunner

from .conftest import NS, feed, register, request, settings_for
from .fake_asp_world import World, fake_asp
from .test_sftp_rectifications import Exchange

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]


def clock() -> datetime:
    return datetime(2026, 5, 20, 1, 30, tzinfo=UTC)  # the fake ASP's: a Wednesday night


def our_xsd(content: bytes) -> list[str]:
    """The fake ASP checks each upload against the project's XSD (§10)."""
    return [v.kind for v in xsd.violations(content)]


@pytest.fixture
def rnvp() -> Iterator[tuple[str, FakeRnvpState]]:
    with serve() as served:
        yield served


async def correction_file(world: World, database_url: str, namespace: str, tmp_path: Path, rnvp_url: str | None,
                          pfmps: list[uuid.UUID], *extra: str, **env: str) -> tuple[int, list[dict[str, Any]], str]:
    base = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false",
            "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path / "outbox"), **world.env(), **env}
    if rnvp_url:
        base["APLYPRO_ASP_RNVP_URL"] = rnvp_url
    args = ["correction-file", *[a for p in pfmps for a in ("--pfmp", str(p))], *extra]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=base)
    return result.exit_code, [json.loads(x) for x in result.stdout.splitlines()], result.stderr


async def students(pool: asyncpg.Pool, count: int) -> list[PaymentRequested]:
    """`count` students with one PFMP each, each with a street line (RNVP finds them)."""
    events = []
    for n in range(count):
        event = request(*await register(pool, n))
        await feed(pool, projection.on_payment_requested, event)
        await pool.execute("UPDATE students SET address_lines = $2 WHERE student_id = $1", event.student_id,
                           [f"{n + 3} rue de Nantes", "Appartement 2"])
        events.append(event)
    return events


async def moves_to_geneva(pool: asyncpg.Pool, event: PaymentRequested) -> None:
    """The student now lives abroad: CorrectionEtranger, RNVP not asked (§4.4, §7.6)."""
    await pool.execute("UPDATE students SET address_country_insee = '99140', address_city_name = 'Genève', "
                       "address_postal_code = '1205' WHERE student_id = $1", event.student_id)


async def integrated(asp: Exchange, pool: asyncpg.Pool, count: int) -> None:
    await asp.send()
    await asp.poll()
    assert await pool.fetchval("SELECT count(*) FROM payment_requests WHERE state = 'integrated'") == count


async def snapshot(pool: asyncpg.Pool) -> tuple[list[Any], int]:
    """Every request's state and event version, and the outbox: what a correction must never change."""
    rows = await pool.fetch("SELECT payment_request_id, state, event_version, blocking_reasons FROM payment_requests "
                            "ORDER BY record_id")
    return [tuple(r) for r in rows], await pool.fetchval("SELECT count(*) FROM outbox")


async def test_a_correction_file_goes_once_over_sftp_is_answered_and_moves_no_request(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # Narrated: two PFMPs integrated by the ASP, one student in Rennes, one in Geneva. A dry run builds and
    # validates and stores nothing; the real run asks RNVP for the student in France only, uploads one file
    # the fake ASP (checking our XSD) answers with the ids it holds; `poll` confirms both; nothing moved.
    rnvp_url, rnvp_state = rnvp
    events = await students(pool, 2)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False, validate=our_xsd), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await integrated(asp, pool, 2)
        await moves_to_geneva(pool, events[1])
        before = await snapshot(pool)
        pfmps = [e.pfmp_id for e in events]

        code, [dry], err = await correction_file(world, database_url, namespace, tmp_path, rnvp_url, pfmps,
                                                 "--dry-run")
        assert (code, dry["state"], dry["records"]) == (0, "dry_run", 2), err
        assert dry["name"].startswith("nps_ficimport_correction_adresse_idp_aplypro_test_dev_")
        assert await pool.fetchval("SELECT count(*) FROM asp_files WHERE kind = 'address_correction'") == 0

        code, [line], err = await correction_file(world, database_url, namespace, tmp_path, rnvp_url, pfmps)
        assert code == 0, err
        assert not any(word in err.upper() for word in ("ZORGLUB", "NANTES", "GENEVE", "GENÈVE", "7630006"))
        name = line["name"]
        assert (line["records"], line["state"], line["not_sent"]) == (2, "uploaded", [])
        assert line["destination"] == f"sftp://aplypro@127.0.0.1:{world.fake.port}/depot"
        assert world.fake.uploads[name] == 1
        assert world.fake.violations == []  # our XSD accepted it at the ASP's door too
        # France only, once per run (the dry run asked too)
        assert [q["id"] for q in rnvp_state.queries] == [str(events[0].pfmp_id)] * 2
        assert rnvp_state.queries[0]["ligne2"] == "3 rue de Nantes"

        content = (world.fake.upload_dir / name).read_bytes()
        records = etree.fromstring(content).findall(".//f:ENREGISTREMENT", NS)
        latest = await pool.fetch("SELECT record_id, asp_individual_id, asp_dossier_id, asp_prestation_id "
                                  "FROM payment_requests ORDER BY record_id")
        assert [int(r.get("idEnregistrement")) for r in records] == [x["record_id"] for x in latest]
        for record, ids in zip(records, latest, strict=True):
            assert record.find("f:INDIVIDU", NS).get("idIndividu") == ids["asp_individual_id"]
            assert record.find(".//f:DOSSIER", NS).attrib == {"idDoss": ids["asp_dossier_id"], "modification": "O"}
            assert record.find(".//f:PRESTADOSS", NS).get("idPrestaDoss") == ids["asp_prestation_id"]
            assert record.find("f:INDIVIDU/f:COORDPAIESINDIVIDU", NS) is not None
            assert record.find(".//f:LISTEELEMENTPAIEMENT", NS) is None
        assert records[0].findtext("f:INDIVIDU/f:ADRESSESINDIVIDU/f:ADRESSE/f:LIBELLEVOIE", namespaces=NS) == \
            "DE NANTES"
        assert records[1].findtext(".//f:ADRESSE/f:LOCALITEETRANGER", namespaces=NS) == "Geneve"

        answers = await asp.poll()
        status = await asp_status(asp)
    assert {(a["kind"], a["applied"], a["unmatched"]) for a in answers} == {
        ("correction_integrations", 2, 0), ("correction_rejects", 0, 0)}, answers
    assert await snapshot(pool) == before  # no state, no version, no event
    assert [r["outcome"] for r in await pool.fetch(
        "SELECT outcome FROM address_correction_returns ORDER BY record_id")] == ["confirmed", "confirmed"]
    assert (status["address_corrections"], status["address_correction_reports"]) == ({"confirmed": 2}, [])
    assert status["correction_files"] == 1
    assert status["correction_batches"] == [{"file": name, "records": 2, "confirmed": 2, "ids_mismatch": 0,
                                             "rejected": 0, "complete": True}]


async def asp_status(asp: Exchange) -> dict[str, Any]:
    from .test_sftp_returns_and_send import gateway

    [status] = await gateway("status", asp.database_url, asp.namespace, asp.tmp_path, **asp.env)
    return status


async def corrected_then_answered(pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
                                  rnvp_url: str, behaviour: Behaviour, reject: dict[int, str] | None = None
                                  ) -> tuple[list[dict[str, Any]], dict[str, Any], list[Any]]:
    """Three integrated PFMPs sent in a correction file; the fake's answers polled, the correction records of
    `reject` rejected (set once the payment file is answered: the same record id travels in both, on purpose).
    Returns the poll lines, the status and the requests; asserts that nothing moved."""
    events = await students(pool, 3)
    async with fake_asp(tmp_path, behaviour, clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await integrated(asp, pool, 3)
        behaviour.reject_records.update(reject or {})
        before = await snapshot(pool)
        code, [line], err = await correction_file(world, database_url, namespace, tmp_path, rnvp_url,
                                                  [e.pfmp_id for e in events])
        assert (code, line["records"], line["state"]) == (0, 3, "uploaded"), err
        answers = await asp.poll()
        status = await asp_status(asp)
    assert await snapshot(pool) == before
    return answers, status, await pool.fetch("SELECT record_id, payment_request_id, asp_dossier_id "
                                             "FROM payment_requests ORDER BY record_id")


async def test_an_answer_naming_another_dossier_id_is_reported_expected_and_got(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # §5.5: the ASP answers the second record with a dossier id other than the one we hold: reported, listed
    # "dossier: expected X, got Y" in status and the unmatched lines; the others confirmed; nothing moves.
    behaviour = Behaviour(remove_taken=False, validate=our_xsd)
    behaviour.correction_mismatch_records = {2}  # the second student's request (record ids start at 1)
    answers, status, requests = await corrected_then_answered(pool, database_url, namespace, tmp_path,
                                                              rnvp[0], behaviour)
    assert {(a["kind"], a["applied"], a["unmatched"]) for a in answers} == {
        ("correction_integrations", 2, 1), ("correction_rejects", 0, 0)}
    held = requests[1]["asp_dossier_id"]
    [report] = status["address_correction_reports"]
    assert (report["record_id"], report["payment_request_id"], report["outcome"], report["mismatches"]) == (
        2, str(requests[1]["payment_request_id"]), "ids_mismatch", [f"dossier: expected {held}, got {int(held) + 1}"])
    assert status["address_corrections"] == {"confirmed": 2, "ids_mismatch": 1}
    assert [tuple(r) for r in await pool.fetch("SELECT record_id, why FROM unmatched_return_lines")] == [
        (2, "correction_ids_mismatch")]


async def test_a_rejected_correction_is_reported_with_its_request_and_motif(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # §5.5: the ASP rejects the third record's correction: reported with the request id and the classified
    # Motif rejet (its own text kept in the table only); nothing moves.
    answers, status, requests = await corrected_then_answered(
        pool, database_url, namespace, tmp_path, rnvp[0], Behaviour(remove_taken=False, validate=our_xsd),
        reject={3: "Le code saisi 35999 n'existe pas dans le LOCALISATIONGEOGRAPHIQUE"})
    assert {(a["kind"], a["lines"], a["unmatched"]) for a in answers} == {
        ("correction_integrations", 2, 0), ("correction_rejects", 1, 1)}
    [report] = status["address_correction_reports"]
    assert (report["record_id"], report["payment_request_id"], report["outcome"]) == (
        3, str(requests[2]["payment_request_id"]), "rejected")
    assert report["reason"] not in (None, "fallback_message")
    assert report["reason_words"]
    assert "35999" not in json.dumps(status)  # the ASP's own words are not printed
    assert await pool.fetchval("SELECT motif FROM address_correction_returns WHERE outcome = 'rejected'") == \
        "Le code saisi 35999 n'existe pas dans le LOCALISATIONGEOGRAPHIQUE"
    assert [tuple(r) for r in await pool.fetch("SELECT record_id, why FROM unmatched_return_lines")] == [
        (3, "correction_rejected")]
    [batch] = status["correction_batches"]
    assert (batch["confirmed"], batch["rejected"], batch["complete"]) == (2, 1, False)  # §5.5: not complete


async def test_an_unknown_or_never_integrated_pfmp_refuses_the_command_and_nothing_is_built(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # Exit 2, one message naming each PFMP and its reason keys; no file, no upload, RNVP not asked.
    [event] = await students(pool, 1)  # pending: never sent, so the ASP holds no id for it
    stranger = uuid.uuid4()
    async with fake_asp(tmp_path, Behaviour(validate=our_xsd), clock=clock) as world:
        code, lines, err = await correction_file(world, database_url, namespace, tmp_path, rnvp[0],
                                                 [event.pfmp_id, stranger])
        assert world.fake.uploads == {}
    assert (code, lines) == (2, [])
    assert f"{event.pfmp_id}: missing_asp_ids" in err
    assert f"{stranger}: unknown_pfmp" in err
    assert "ZORGLUB" not in err  # ids and reason keys only
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 0
    assert rnvp[1].queries == []


async def test_a_student_rnvp_has_nothing_for_is_left_out_and_reported(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # §4.9: if RNVP has nothing for a student, nothing is sent for them: the other PFMP goes alone, the left-out
    # one is reported with its request and reason; RNVP finding nothing for the only one: no file at all.
    rnvp_url, rnvp_state = rnvp
    events = await students(pool, 2)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False, validate=our_xsd), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await integrated(asp, pool, 2)
        rnvp_state.not_found.add(str(events[0].pfmp_id))
        latest = await pool.fetchval("SELECT payment_request_id FROM payment_requests WHERE pfmp_id = $1",
                                     events[0].pfmp_id)

        code, [line], err = await correction_file(world, database_url, namespace, tmp_path, rnvp_url,
                                                  [e.pfmp_id for e in events])
        assert code == 0, err
        assert (line["records"], line["state"]) == (1, "uploaded")
        assert line["not_sent"] == [{"pfmp_id": str(events[0].pfmp_id), "payment_request_id": str(latest),
                                     "reasons": ["rnvp_address_not_found"]}]
        [record] = etree.fromstring((world.fake.upload_dir / line["name"]).read_bytes()).findall(
            ".//f:ENREGISTREMENT", NS)
        assert record.find(".//f:PRESTADOSS", NS).get("idPrestaDoss") == await pool.fetchval(
            "SELECT asp_prestation_id FROM payment_requests WHERE pfmp_id = $1", events[1].pfmp_id)

        code, [alone], err = await correction_file(world, database_url, namespace, tmp_path, rnvp_url,
                                                   [events[0].pfmp_id])
        assert code == 0, err
        assert (alone["name"], alone["records"], alone["not_sent"][0]["reasons"]) == (
            None, 0, ["rnvp_address_not_found"])
    assert await pool.fetchval("SELECT count(*) FROM asp_files WHERE kind = 'address_correction'") == 1


async def test_without_rnvp_a_student_living_in_france_is_never_sent_unnormalised(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    [event] = await students(pool, 1)
    async with fake_asp(tmp_path, Behaviour(validate=our_xsd), clock=clock) as world:
        await integrated(Exchange(world, database_url, namespace, tmp_path), pool, 1)
        code, lines, err = await correction_file(world, database_url, namespace, tmp_path, None, [event.pfmp_id])
    assert (code, lines) == (2, [])
    assert "rnvp_unavailable" in err
    assert await pool.fetchval("SELECT count(*) FROM asp_files WHERE kind = 'address_correction'") == 0


class Crash(BaseException):
    """The process dies here: BaseException, so no `except Exception` on the way can swallow it."""


async def test_a_crash_between_the_upload_and_its_record_never_uploads_the_correction_file_twice(
    pool: asyncpg.Pool, namespace: str, database_url: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # G2: the correction file is renamed into the drop folder (and taken by the ASP's pick-up), then the process
    # dies before recording it. The next `send` finds it staged, gone from the folder: recorded `unconfirmed`,
    # never uploaded again; the ASP's answer to it is matched as usual.
    events = await students(pool, 1)
    renamed = SftpSession.publish

    async def rename_then_die(self: SftpSession, name: str) -> None:
        await renamed(self, name)
        if "correction_adresse" in name:
            raise Crash

    async with fake_asp(tmp_path, Behaviour(remove_taken=True, validate=our_xsd), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await integrated(asp, pool, 1)
        before = await snapshot(pool)
        options = replace(build_options(settings_for(namespace, outbox_dir=tmp_path / "outbox")),
                          transport=world.transport())
        monkeypatch.setattr(SftpSession, "publish", rename_then_die)
        async with HttpRnvp(rnvp[0]) as client:
            with pytest.raises(Crash):
                await send_correction_file(pool, options, [events[0].pfmp_id], client)
        monkeypatch.setattr(SftpSession, "publish", renamed)
        name = await pool.fetchval("SELECT file_name FROM asp_files WHERE kind = 'address_correction'")
        assert await pool.fetchval("SELECT written_at FROM asp_files WHERE file_name = $1", name) is None
        assert world.fake.uploads[name] == 1  # renamed, hence taken: the ASP has it

        lines = await asp.send()
        assert [(x["name"], x["state"]) for x in lines] == [(name, "unconfirmed")]
        assert await asp.send() == []  # nothing left to hand over
        assert world.fake.uploads[name] == 1
        answers = await asp.poll()
    assert {(a["kind"], a["applied"]) for a in answers} == {("correction_integrations", 1), ("correction_rejects", 0)}
    assert await snapshot(pool) == before


async def test_a_correction_file_counts_in_the_day_s_file_cap(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # §3.4 (SHOULD), G6: two files a day. The payment file and one correction file use them up: a second
    # correction file is not built (`skipped`), and a new payment request waits for tomorrow as well.
    events = await students(pool, 1)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False, validate=our_xsd), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path, APLYPRO_ASP_MAX_FILES_PER_DAY="2")
        await integrated(asp, pool, 1)
        cap = {"APLYPRO_ASP_MAX_FILES_PER_DAY": "2"}
        code, [first], _ = await correction_file(world, database_url, namespace, tmp_path, rnvp[0],
                                                 [events[0].pfmp_id], **cap)
        assert (code, first["state"]) == (0, "uploaded")
        code, [second], _ = await correction_file(world, database_url, namespace, tmp_path, rnvp[0],
                                                  [events[0].pfmp_id], **cap)
        assert (code, second["name"], second["skipped"]) == (0, None, "daily_file_limit")
        await feed(pool, projection.on_payment_requested, request(*await register(pool, 1)))
        [waiting] = await asp.send()
        assert waiting["skipped"] == "daily_file_limit"
        assert len(world.fake.uploads) == 2
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 2


async def test_a_correction_run_hands_over_its_own_files_only(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, rnvp: tuple[str, FakeRnvpState]
) -> None:
    # A payment file whose handover failed waits for `send` (inside the send window, §3.4); the operator's
    # correction run in between uploads its correction file and leaves the payment file alone.
    [first] = await students(pool, 1)
    behaviour = Behaviour(remove_taken=False, validate=our_xsd)
    async with fake_asp(tmp_path, behaviour, clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await integrated(asp, pool, 1)
        await feed(pool, projection.on_payment_requested, request(*await register(pool, 1)))
        behaviour.faults.fail_renames = 1
        options = replace(build_options(settings_for(namespace, outbox_dir=tmp_path / "outbox")),
                          transport=world.transport())
        with pytest.raises(TransportFailed):
            await build_payment_file(pool, options)
        waiting = await pool.fetchval("SELECT file_name FROM asp_files WHERE written_at IS NULL")

        code, [line], err = await correction_file(world, database_url, namespace, tmp_path, rnvp[0],
                                                  [first.pfmp_id])
        assert (code, line["state"]) == (0, "uploaded"), err
        assert await pool.fetchval("SELECT written_at FROM asp_files WHERE file_name = $1", waiting) is None
        assert waiting not in world.fake.uploads

        [sent] = await asp.send()
        assert (sent["name"], sent["state"]) == (waiting, "uploaded")
    assert world.fake.uploads[waiting] == 1
