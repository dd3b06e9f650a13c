"""The ASP side of the demo and `aplypro up` (aplypro_local.asp_fakes): the gateway's own settings, read from the
environment the stack gives its processes, reach both the fake ASP over SFTP and the fake RNVP over HTTP; the fake
ASP checks each upload against the project's XSD."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.rnvp import HttpRnvp
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.rnvp import RnvpQuery
from aplypro_asp_gateway.service_layer.handover import transport_for
from aplypro_local.asp_fakes import asp_fakes
from aplypro_local.drill.asp_desk import AspDesk
from aplypro_local.fake_asp.schema import project_xsd

from .fake_asp_world import A_WEDNESDAY, sample_file
from .test_sftp_returns_and_send import send, students_requesting

NAME = "nps_ficimport_idp_aplypro_test_dev_20260520013000.xml"


async def test_the_stacks_fakes_give_the_gateway_its_sftp_and_rnvp_settings(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with asp_fakes(tmp_path / "fake-asp", clock=lambda: A_WEDNESDAY) as fakes:
        for key, value in fakes.env.items():
            monkeypatch.setenv(key, value)
        settings = AspSettings()  # as the gateway's processes and its CLI read them
        assert settings.sftp_host == "127.0.0.1"
        assert settings.rnvp_url == fakes.rnvp_url

        # correction-file's RNVP client gets a normalised address for a student living in France (§4.9)
        async with HttpRnvp(settings.rnvp_url) as rnvp:
            answer = await rnvp.normalise(RnvpQuery("pfmp-1", "12, boulevard de la République",
                                                    "Appartement 12", "13001", "13201", "Marseille"))
        assert answer is not None
        assert (answer.voie_num, answer.voie_type, answer.voie_den) == ("12", "BOULEVARD", "DE LA REPUBLIQUE")
        assert [q["id"] for q in fakes.rnvp.queries] == ["pfmp-1"]

        # send's transport uploads into the fake ASP, which answers the record once
        async with transport_for(settings).session() as session:
            await session.write_partial(NAME, sample_file(4242))
            await session.publish(NAME)
            returns = sorted(f.name for f in await session.list_returns())
        assert returns == [f"identifiants_generes_{NAME[:-4]}.csv", f"rejets_integ_idp_{NAME[:-4]}.csv"]
        ledger = fakes.asp.ledger()
        assert (ledger.record_counts, ledger.violations) == ({4242: 1}, ())


async def test_the_stacks_fake_asp_answers_no_file_that_breaks_the_project_xsd(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    broken = sample_file(4243).replace(b"<CODE>D</CODE>", b"<CODE>X</CODE>")  # well-formed, outside the XSD
    with asp_fakes(tmp_path / "fake-asp", clock=lambda: A_WEDNESDAY) as fakes:
        for key, value in fakes.env.items():
            monkeypatch.setenv(key, value)
        async with transport_for(AspSettings()).session() as session:
            await session.write_partial(NAME, broken)
            await session.publish(NAME)
            returns = await session.list_returns()
        assert returns == []
        assert [(v.code, v.file_name) for v in fakes.asp.ledger().violations] == [("invalid_file", NAME)]


def test_the_project_xsd_check_passes_the_builders_file_and_names_no_value() -> None:
    assert project_xsd(sample_file(4242)) == []
    assert project_xsd(b"<FICHIER") == ["XML_SYNTAX"]
    found = project_xsd(sample_file(4242).replace(b"<CODE>D</CODE>", b"<CODE>X</CODE>"))
    assert found
    assert all(kind.startswith("SCHEMAV_") for kind in found)


@pytest.mark.integration
@pytest.mark.usefixtures("logging_restored")
async def test_the_asp_desk_of_aplypro_up_polls_and_pays_what_the_gateway_sent(
        pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path) -> None:
    # Narrated: `aplypro up`'s round (AspDesk): the gateway's `poll` reads the fake ASP's answers, the fake pays
    # what it integrated, the next `poll` reads the payments; two requests sent end `paid`, each received once.
    await students_requesting(pool, 2)
    with asp_fakes(tmp_path / "fake-asp", clock=lambda: A_WEDNESDAY) as fakes:
        env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
               "APLYPRO_LOG_JSON": "false", "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path / "outbox"), **fakes.env}
        [sent] = await send(database_url, namespace, tmp_path, **fakes.env)
        desk = AspDesk(fakes.asp, env, poll_every_s=0.2)
        desk.start()
        try:
            deadline = time.monotonic() + 120
            while await pool.fetchval("SELECT count(*) FROM payment_requests WHERE state = 'paid'") < 2:
                assert time.monotonic() < deadline, (desk.polls, desk.failed_polls)
                await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(desk.stop)
        assert sent["records"] == 2
        counts = fakes.asp.ledger().record_counts
        assert sorted(counts.values()) == [1, 1]  # each record received once
        assert desk.failed_polls == 0
