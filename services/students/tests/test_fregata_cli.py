"""`aplypro-students import-fregata` on the real PostgreSQL against the fake FREGATA: the JSON summary (the same
shape as import-sygne's), dry run, failures with exit 1, settings checked; stderr never shows personal data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aplypro_local import fake_sygne
from aplypro_local.fake_fregata import FakeFregataServer, Fault, serve
from aplypro_local.fake_fregata.sample import sample_state
from aplypro_local.fake_sygne.sample import sample_state as sygne_sample
from aplypro_students.entrypoints.cli import app
from typer.testing import CliRunner, Result

from .conftest import DATA

pytestmark = pytest.mark.integration
PERSONAL = ("000111224", "000111241", "DIALLO", "Aminata", "2009-09-30", "Chênes")
SUMMARY_KEYS = ["source", "uai", "school_year", "students", "schoolings_opened", "schoolings_closed",
                "class_changes", "unchanged", "skipped", "errors"]
IMPORT = ["import-fregata", "--uai", "0999002L", "--school-year", "2025"]


@pytest.fixture
def fake(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFregataServer]:
    with serve(sample_state()) as server:
        for key, value in {**server.env(), "APLYPRO_FREGATA_BACKOFF_BASE": "0.05",
                           "APLYPRO_FREGATA_AUTH_RETRY_DELAY": "0.02"}.items():
            monkeypatch.setenv(key, value)
        assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
        for mefs in ("mefs.csv", "mefs_masa.csv"):
            assert cli.invoke(app, ["load-mefs", str(DATA / mefs), "--school-year", "2025"]).exit_code == 0
        yield server


def summary(result: Result, exit_code: int = 0) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    assert not any(p in result.stderr for p in PERSONAL)  # logs and progress: ids and counts only
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_one_establishment_is_imported_and_summarised(cli: CliRunner, fake: FakeFregataServer) -> None:
    result = cli.invoke(app, IMPORT)
    out = summary(result)
    assert list(out) == SUMMARY_KEYS
    assert {k: out[k] for k in SUMMARY_KEYS[:8]} == {
        "source": "fregata", "uai": "0999002L", "school_year": 2025, "students": 8, "schoolings_opened": 8,
        "schoolings_closed": 2, "class_changes": 0, "unchanged": 0}
    assert {e["reason"] for e in out["skipped"]} == {"code_mef.not_eligible", "nom.missing", "ine.missing",
                                                     "date_naissance.format", "date_fin.before_start", "statut.value"}
    assert all(set(e) <= {"ine", "reason"} for e in out["skipped"] + out["errors"])
    assert out["errors"] == []
    assert "[1/1] 0999002L: 8 students, 8 opened, 2 closed" in result.stderr
    again = summary(cli.invoke(app, IMPORT))
    assert (again["schoolings_opened"], again["unchanged"]) == (0, 8)


def test_a_dry_run_writes_nothing_and_publishes_nothing(cli: CliRunner, fake: FakeFregataServer) -> None:
    out = summary(cli.invoke(app, [*IMPORT, "--dry-run"]))
    assert (out["students"], out["schoolings_opened"]) == (8, 8)  # what a real run would do
    status = summary(cli.invoke(app, ["status"]))
    assert (status["students"], status["schoolings"]) == (0, 0)
    # the outbox is the only way out to Kafka: the relay has nothing to publish
    assert fake.state.requests["inscriptions"] == 1


def test_sygne_and_fregata_print_the_same_shape(cli: CliRunner, fake: FakeFregataServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_sygne.serve(sygne_sample()) as sygne:
        for key, value in sygne.env().items():
            monkeypatch.setenv(key, value)
        from_sygne = summary(cli.invoke(app, ["import-sygne", "--uai", "0999001K", "--school-year", "2025"]))
    from_fregata = summary(cli.invoke(app, IMPORT))
    assert list(from_sygne) == list(from_fregata) == SUMMARY_KEYS
    assert (from_sygne["source"], from_fregata["source"]) == ("sygne", "fregata")


def test_fregata_down_is_reported_with_exit_1_in_the_same_shape(cli: CliRunner, fake: FakeFregataServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_FREGATA_MAX_ATTEMPTS", "2")
    fake.state.inject(Fault(504, times=5))
    result = cli.invoke(app, IMPORT)
    out = summary(result, exit_code=1)
    assert list(out) == SUMMARY_KEYS
    assert (out["students"], out["errors"]) == (0, [{"reason": "api_unavailable"}])
    assert "api_unavailable" in result.stderr
    fake.state.faults.clear()
    fake.state.inject(Fault(401, times=50))  # more 401s than the retry budget: the run fails visibly
    assert summary(cli.invoke(app, IMPORT), exit_code=1)["errors"] == [{"reason": "api_auth_failed"}]
    assert summary(cli.invoke(app, ["status"]))["students"] == 0


def test_an_unknown_establishment_is_reported_with_exit_1(cli: CliRunner, fake: FakeFregataServer) -> None:
    out = summary(cli.invoke(app, ["import-fregata", "--uai", "0999999Z", "--school-year", "2025"]), exit_code=1)
    assert out["errors"] == [{"reason": "uai.unknown"}]


def test_settings_and_options_are_checked_before_anything_runs(cli: CliRunner, fake: FakeFregataServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APLYPRO_FREGATA_SECRET")
    result = cli.invoke(app, IMPORT)
    assert result.exit_code == 2
    assert "APLYPRO_FREGATA_SECRET" in result.stderr
    assert cli.invoke(app, ["import-fregata", "--uai", "bad", "--school-year", "2025"]).exit_code == 2
    assert cli.invoke(app, ["import-fregata", "--school-year", "2025"]).exit_code == 2  # --uai is required
    assert sum(fake.state.requests.values()) == 0
