"""The SFTP transport against the fake ASP, a real asyncssh server on a free port: what reaches the server,
under which name, and whom the client refuses to talk to."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncssh
import pytest
from aplypro_asp_gateway.adapters.transport import HostKeyRefused, TransportFailed
from aplypro_local.fake_asp import Behaviour, generate_keys, write_known_hosts

from .fake_asp_world import fake_asp, sample_file

NAME = "nps_ficimport_idp_aplypro_test_dev_20260520013000.xml"
INTEGRATIONS = f"identifiants_generes_{NAME.removesuffix('.xml')}.csv"
REJECTS = f"rejets_integ_idp_{NAME.removesuffix('.xml')}.csv"


async def test_an_upload_lands_under_its_final_name_and_is_answered(tmp_path: Path) -> None:
    content = sample_file(4242)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False)) as world:
        async with world.transport().session() as session:
            await session.write_partial(NAME, content)
            # Under its temporary name only: the pick-up has not seen it.
            assert world.fake.uploads == {}
            assert world.fake.files(world.fake.upload_dir) == [f".{NAME}.part"]
            await session.publish(NAME)

        # One upload, under the final name, with the bytes sent; no temporary file left.
        assert world.fake.uploads == {NAME: 1}
        assert world.fake.files(world.fake.upload_dir) == [NAME]
        assert hashlib.sha256((world.fake.upload_dir / NAME).read_bytes()).digest() == hashlib.sha256(content).digest()
        # Answered with both CSVs, in Windows-1252, `;`, exact headers, column 1 our idEnregistrement.
        assert world.fake.files(world.fake.return_dir) == [INTEGRATIONS, REJECTS]
        integrations = (world.fake.return_dir / INTEGRATIONS).read_bytes().decode("cp1252").splitlines()
        assert integrations[0] == ("Numero enregistrement;idIndDoss;idIndTiers;idDoss;numAdmDoss;idPretaDoss;"
                                   "numAdmPrestaDoss;idIndPrestaDoss")
        assert [line.split(";")[0] for line in integrations[1:]] == ["4242"]
        rejects = (world.fake.return_dir / REJECTS).read_bytes()
        assert rejects == "Numéro d'enregistrement;Type d'entité;Numadm;Motif rejet;idIndDoublon\n".encode("cp1252")


async def test_the_return_folder_lists_only_regular_visible_files_and_removes_what_it_is_told(
    tmp_path: Path,
) -> None:
    async with fake_asp(tmp_path) as world:
        (world.fake.return_dir / "sub").mkdir()
        (world.fake.return_dir / "renvoi_paiement_APLYPROMOCK_20260605.xml").write_bytes(b"<LISTEPAIEMENT/>")
        async with world.transport().session() as session:
            listed = await session.list_returns()
            assert [(f.name, f.size) for f in listed] == [("renvoi_paiement_APLYPROMOCK_20260605.xml", 16)]
            assert await session.read_return(listed[0].name) == b"<LISTEPAIEMENT/>"
            await session.remove_return(listed[0].name)
            await session.remove_return(listed[0].name)  # already gone: nothing to do
        assert world.fake.files(world.fake.return_dir) == ["sub"]


async def test_a_server_with_another_host_key_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with fake_asp(tmp_path) as world:
        # known_hosts pins a key the server does not hold (an impostor, or a changed key).
        other = generate_keys(tmp_path / "other")
        pinned = write_known_hosts(tmp_path / "other" / "known_hosts", "127.0.0.1", world.fake.port,
                                   other.host_public)
        with pytest.raises(HostKeyRefused) as refused:
            async with world.transport(known_hosts=pinned).session() as session:
                await session.write_partial(NAME, sample_file())
        assert refused.value.code == "asp_sftp_host_key_refused"
        # A host the known_hosts file does not list at all is refused the same way.
        empty = tmp_path / "empty_known_hosts"
        empty.write_text("")
        with pytest.raises(HostKeyRefused):
            async with world.transport(known_hosts=empty).session():
                pass
        assert world.fake.files(world.fake.upload_dir) == []


async def test_a_key_the_server_does_not_know_is_refused(tmp_path: Path) -> None:
    async with fake_asp(tmp_path) as world:
        stranger = generate_keys(tmp_path / "stranger")
        with pytest.raises(TransportFailed) as failed:
            async with world.transport(key_path=stranger.client_key).session():
                pass
        assert isinstance(failed.value.__cause__, asyncssh.PermissionDenied)


async def test_the_client_talks_to_a_server_offering_only_aes256_cbc(tmp_path: Path) -> None:
    # The ASP's own client forces aes256-cbc (asp-exchange.md §3.1): ours must offer it.
    async with fake_asp(tmp_path, encryption_algs=["aes256-cbc"]) as world:
        async with world.transport().session() as session:
            await session.write_partial(NAME, sample_file())
            await session.publish(NAME)
        assert world.fake.uploads == {NAME: 1}


async def test_a_disconnect_mid_upload_leaves_no_final_file(tmp_path: Path) -> None:
    behaviour = Behaviour()
    behaviour.faults.disconnect_after_bytes = 200
    content = sample_file()
    async with fake_asp(tmp_path, behaviour) as world:
        async with world.transport().session() as session:
            with pytest.raises(TransportFailed):
                await session.write_partial(NAME, content)
        assert world.fake.disconnects == 1
        # Only the cut temporary file: the pick-up never saw a payment file.
        assert world.fake.uploads == {}
        assert world.fake.files(world.fake.upload_dir) == [f".{NAME}.part"]
        assert (world.fake.upload_dir / f".{NAME}.part").stat().st_size < len(content)
