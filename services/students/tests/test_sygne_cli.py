"""`aplypro-students import-sygne` on the real PostgreSQL against the fake SYGNE: JSON summary, progress on
stderr, failures reported per establishment, settings checked; logs never show personal data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aplypro_local.fake_sygne import FakeSygneServer, Fault, serve
from aplypro_local.fake_sygne.sample import sample_state
from aplypro_students.entrypoints.cli import app
from typer.testing import CliRunner, Result

from .conftest import DATA

pytestmark = pytest.mark.integration
PERSONAL = ("000111222", "000111233", "000111226", "FONTAINE", "HADDAD", "Chloé", "Mehdi", "2008-04-17",
            "Tilleuls")
SUMMARY_KEYS = ["source", "uai", "school_year", "students", "schoolings_opened", "schoolings_closed",
                "class_changes", "unchanged", "skipped", "errors"]


@pytest.fixture
def fake(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSygneServer]:
    with serve(sample_state()) as server:
        for key, value in {**server.env(), "APLYPRO_SYGNE_BACKOFF_BASE": "0.05"}.items():
            monkeypatch.setenv(key, value)
        assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
        assert cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]).exit_code == 0
        yield server


def summary(result: Result, exit_code: int = 0) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    assert not any(p in result.stderr for p in PERSONAL)  # logs and progress: ids and counts only
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_one_establishment_is_imported_and_summarised(cli: CliRunner, fake: FakeSygneServer) -> None:
    out = summary(cli.invoke(app, ["import-sygne", "--uai", "0999001k", "--school-year", "2025"]))
    assert list(out) == SUMMARY_KEYS  # the shape import-fregata prints too (issue 13)
    assert {k: out[k] for k in SUMMARY_KEYS[:8]} == {
        "source": "sygne", "uai": "0999001K", "school_year": 2025, "students": 6, "schoolings_opened": 6,
        "schoolings_closed": 1, "class_changes": 0, "unchanged": 0}
    assert {e["reason"] for e in out["skipped"]} == {"code_mef.not_eligible", "nom.missing",
                                                     "date_naissance.format", "date_fin.before_start"}
    assert out["errors"] == [{"ine": "000111233AM", "reason": "ine_not_found"}]  # the detail answered 404
    again = cli.invoke(app, ["import-sygne", "--uai", "0999001K", "--school-year", "2025"])
    assert "[1/1] 0999001K: 6 students, 0 opened, 0 closed" in again.stderr
    assert summary(again)["unchanged"] == 6


def test_all_imports_every_establishment_sygne_serves(cli: CliRunner, fake: FakeSygneServer) -> None:
    out = summary(cli.invoke(app, ["import-sygne", "--all", "--school-year", "2025", "--dry-run"]))
    # 0999002L is agricultural (MASA): FREGATA's, not SYGNE's
    assert (out["establishments"], out["failed"], out["students"], out["dry_run"]) == (1, [], 6, True)
    assert summary(cli.invoke(app, ["status"]))["students"] == 0  # the dry run wrote nothing


def test_sygne_down_for_an_establishment_is_reported_with_exit_1(cli: CliRunner, fake: FakeSygneServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_SYGNE_MAX_ATTEMPTS", "2")
    fake.state.inject(Fault(504, times=5, path="etablissements"))
    out = summary(cli.invoke(app, ["import-sygne", "--uai", "0999001K", "--school-year", "2025"]), exit_code=1)
    assert list(out) == SUMMARY_KEYS
    assert (out["students"], out["errors"]) == (0, [{"reason": "api_unavailable"}])


def test_settings_and_options_are_checked_before_anything_runs(cli: CliRunner, fake: FakeSygneServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_SYGNE_BASE_URL", fake.base_url.rstrip("/"))
    result = cli.invoke(app, ["import-sygne", "--uai", "0999001K"])
    assert result.exit_code == 2
    assert "APLYPRO_SYGNE_BASE_URL" in result.stderr
    assert "must end with '/'" in result.stderr
    monkeypatch.delenv("APLYPRO_SYGNE_SECRET")
    assert "APLYPRO_SYGNE_SECRET" in cli.invoke(app, ["import-sygne", "--uai", "0999001K"]).stderr
    assert cli.invoke(app, ["import-sygne"]).exit_code == 2  # neither --uai nor --all
    assert sum(fake.state.requests.values()) == 0
