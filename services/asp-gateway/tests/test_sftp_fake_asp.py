"""The fake ASP itself: reproducible rejects, duplicates and limits detected, and a process of its own."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from aplypro_asp_gateway.adapters.sftp import SftpConfig, SftpTransport
from aplypro_asp_gateway.adapters.transport import Transport
from aplypro_local.fake_asp import REJECT_REASONS, Behaviour, generate_keys
from aplypro_local.fake_asp.pickup import AspDesk
from aplypro_local.fake_asp.returns import rejects_name

from .fake_asp_world import A_WEDNESDAY, fake_asp, sample_file

NAME = "nps_ficimport_idp_aplypro_test_dev_20260520013000.xml"


async def upload(transport: Transport, name: str, content: bytes) -> None:
    async with transport.session() as session:
        await session.write_partial(name, content)
        await session.publish(name)


def rejected(root: Path, name: str) -> list[list[str]]:
    lines = (root / "retour" / rejects_name(name)).read_bytes().decode("cp1252").splitlines()
    return [line.split(";") for line in lines[1:]]


async def test_the_reject_rate_is_reproducible_with_a_seed_and_uses_the_dictionary_reasons(tmp_path: Path) -> None:
    # Twelve files of one record each (the builder's bytes), twice with the same seed: the same answers.
    answers = []
    for run in range(2):
        async with fake_asp(tmp_path / str(run), Behaviour(reject_rate=0.5, seed=7)) as world:
            for n in range(12):
                name = NAME.replace("013000", f"0130{n:02}")
                await upload(world.transport(), name, sample_file(1000 + n))
            answers.append([row for n in range(12)
                            for row in rejected(world.fake.root, NAME.replace("013000", f"0130{n:02}"))])
    assert answers[0] == answers[1]
    assert 0 < len(answers[0]) < 12
    assert {row[3] for row in answers[0]} <= set(REJECT_REASONS)  # read back from Windows-1252 intact


async def test_a_file_name_or_content_received_twice_is_detected_and_not_answered_again(tmp_path: Path) -> None:
    async with fake_asp(tmp_path) as world:
        content = sample_file(4242)
        await upload(world.transport(), NAME, content)
        await upload(world.transport(), NAME, content)  # taken and removed: the same name arrives again
        await upload(world.transport(), NAME.replace("013000", "013001"), content)

        assert world.fake.uploads[NAME] == 2
        assert [v.code for v in world.fake.violations] == ["duplicate_name", "duplicate_content"]
        assert world.fake.record_counts == {4242: 1}


async def test_a_record_sent_again_in_another_file_is_detected_and_rejected(tmp_path: Path) -> None:
    async with fake_asp(tmp_path) as world:
        await upload(world.transport(), NAME, sample_file(4242))
        other = NAME.replace("013000", "013001")
        await upload(world.transport(), other, sample_file(4242, 4243))

        assert world.fake.record_counts == {4242: 2, 4243: 1}
        assert [v.code for v in world.fake.violations] == ["duplicate_record"]
        assert rejected(world.fake.root, other) == [["4242", "", "", "L'enregistrement 4242 a déjà été reçu", ""]]


async def test_a_da_number_repeated_in_a_file_is_rejected_as_not_unique(tmp_path: Path) -> None:
    # Two PFMPs of one schooling not integrated yet, in one file: the second creates its dossier again (§4.3).
    async with fake_asp(tmp_path) as world:
        await upload(world.transport(), NAME, sample_file(4243, 4244, schooling=uuid.uuid4()))

        [row] = rejected(world.fake.root, NAME)
        assert row[0] == "4244"
        assert row[3].startswith("Le numéro administratif ENPU")
        assert row[3].endswith(" n'est pas unique")


async def test_a_file_over_the_record_cap_is_refused_whole(tmp_path: Path) -> None:
    async with fake_asp(tmp_path, Behaviour(max_records_per_file=1)) as world:
        await upload(world.transport(), NAME, sample_file(1, 2))

        assert [(v.code, v.detail) for v in world.fake.violations] == [("too_many_records", "2")]
        assert world.fake.files(world.fake.return_dir) == []


async def test_the_fake_runs_as_its_own_process(tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aplypro_local.fake_asp", "--port", "0", "--root", str(tmp_path / "asp"),
        "--host-key", str(tmp_path / "keys" / "new_host_key"), "--authorized-keys", str(keys.authorized_keys),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        started = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(started["known_hosts"] + "\n")  # the line it printed: its generated host key
        transport = SftpTransport(SftpConfig(host="127.0.0.1", port=started["port"], user="aplypro",
                                             known_hosts=known_hosts, key_path=keys.client_key, timeout_s=10))
        await upload(transport, NAME, sample_file(4242))

        assert sorted(p.name for p in (tmp_path / "asp" / "retour").iterdir()) == [
            ".keep", f"identifiants_generes_{NAME[:-4]}.csv", f"rejets_integ_idp_{NAME[:-4]}.csv"]
    finally:
        process.terminate()
        await process.wait()


def test_the_fake_refuses_the_records_paying_a_chosen_account_whatever_their_id() -> None:
    # Keyed on the IBAN (written with spaces or not), so a test chooses before any request id exists.
    blocked = Behaviour(reject_ibans={"FR76 3000 6000 0112 3456 7890 189": "Coord. paiement bloquees"})
    answer = AspDesk(blocked).take(NAME, sample_file(4242, 4243), A_WEDNESDAY)
    assert answer is not None
    assert [(r.record_id, r.reason) for r in answer.rejected] == [(4242, "Coord. paiement bloquees"),
                                                                  (4243, "Coord. paiement bloquees")]
    other = AspDesk(Behaviour(reject_ibans={"FR7630006000000000000000167": "Coord. paiement bloquees"}))
    answer = other.take(NAME, sample_file(4242), A_WEDNESDAY)
    assert answer is not None
    assert ([i.record_id for i in answer.integrated], answer.rejected) == ([4242], [])


def test_the_fake_refuses_the_records_a_predicate_names_with_the_reason_it_returns() -> None:
    # §10: injected rejects by predicate (here the NUMADM of the dossier), the reason built from a §6.1 pattern.
    content = sample_file(4242, 4243)
    target = AspDesk(Behaviour()).take(NAME, content, A_WEDNESDAY)
    assert target is not None
    numadm = target.integrated[1].dossier_number
    desk = AspDesk(Behaviour(reject_if=lambda r: f"Le numéro administratif {r.dossier_number} n'est pas unique"
                             if r.dossier_number == numadm else None))
    answer = desk.take(NAME, content, A_WEDNESDAY)
    assert answer is not None
    assert [i.record_id for i in answer.integrated] == [4242]
    assert [(r.record_id, r.reason) for r in answer.rejected] == [
        (4243, f"Le numéro administratif {numadm} n'est pas unique")]


def test_the_fake_records_a_weekend_upload_an_eleventh_file_and_a_week_over_its_records() -> None:
    # §10: the limits of §3.4 are recorded as violations for the tests to assert (the files are still answered).
    desk = AspDesk(Behaviour(max_files_per_day=2, max_records_per_week=4))
    for n in range(3):  # Wednesday: three files of one record; the third is one too many that day
        desk.take(NAME.replace("013000", f"0130{n:02}"), sample_file(5000 + n), A_WEDNESDAY)
    desk.take(NAME.replace("20260520", "20260523"), sample_file(5010, 5011), A_WEDNESDAY + timedelta(days=3))
    desk.take(NAME.replace("20260520", "20260525"), sample_file(5020), A_WEDNESDAY + timedelta(days=5))
    assert [(v.code, v.detail) for v in desk.violations] == [
        ("too_many_files_today", "3"),
        ("weekend_upload", ""),  # Saturday 23 May
        ("too_many_records_this_week", "5"),  # 3 on Wednesday + 2 on Saturday
    ]
    assert sum(desk.records_seen.values()) == 6  # Monday 25 May starts a new week: no violation


def test_the_fake_s_built_in_rejects_a_non_sepa_iban_a_bad_checksum_and_an_id_it_never_issued() -> None:
    # §10 "Built-in rejects" (the gateway never sends such records: the bytes are edited after the builder).
    desk = AspDesk(Behaviour())
    files = {
        4242: sample_file(4242).replace(b"<CODEISOPAYS>FR</CODEISOPAYS>", b"<CODEISOPAYS>US</CODEISOPAYS>"),
        4243: sample_file(4243).replace(b"<CLECONTROL>76</CLECONTROL>", b"<CLECONTROL>77</CLECONTROL>"),
        4244: sample_file(4244).replace(b"<INDIVIDU>", b'<INDIVIDU idIndividu="7777777" modification="O">'),
    }
    reasons = {}
    for n, (record_id, content) in enumerate(files.items()):
        answer = desk.take(NAME.replace("013000", f"0130{n:02}"), content, A_WEDNESDAY)
        assert answer is not None
        assert answer.integrated == []
        [rejected] = answer.rejected
        reasons[record_id] = rejected.reason
    assert reasons == {4242: "L'IBAN ne fait pas partie de la zone SEPA.",
                       4243: "Le RIB FR7730006000011234567890189 est Invalide",
                       4244: "L'identifiant 7777777 est inconnu"}
