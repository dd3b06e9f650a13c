"""The `aplypro-students` commands end to end on the real PostgreSQL; outputs never show personal data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aplypro_students.entrypoints.cli import app
from typer.testing import CliRunner, Result

from .conftest import DATA, GOOD_ROW, HEADER

pytestmark = pytest.mark.integration
PERSONAL = ("000111223", "000111226", "0001112290", "HADDAD", "LEROY", "MOREAU", "Mehdi", "Inès", "2007-11-02",
            "14/02/2009", "FR76", "3000600001", "Pasteur", "Œuvre")


def ok(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    for secret in PERSONAL:
        assert secret not in result.stderr
        assert secret not in result.stdout
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_reference_data_students_and_ribs_go_through_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    loaded = ok(cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]))
    assert {k: loaded[k] for k in ("establishments", "changed", "schoolings_republished")} == {
        "establishments": 2, "changed": 0, "schoolings_republished": 0}
    assert ok(cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]))["mefs"] == 3
    first = ok(cli.invoke(app, ["import-csv", str(DATA / "students.csv"), "--uai", "0999001k"]))
    assert {k: first[k] for k in ("students", "new", "changed", "schoolings", "events")} == {
        "students": 3, "new": 3, "changed": 0, "schoolings": 3, "events": 6}
    again = ok(cli.invoke(app, ["import-csv", str(DATA / "students.csv"), "--uai", "0999001K"]))
    assert (again["new"], again["changed"], again["events"]) == (0, 0, 0)
    assert ok(cli.invoke(app, ["import-ribs", str(DATA / "ribs.csv")]))["recorded"] == 2
    status = ok(cli.invoke(app, ["status"]))
    assert {k: status[k] for k in ("students", "schoolings", "ribs", "establishments", "mefs")} == {
        "students": 3, "schoolings": 3, "ribs": 2, "establishments": 2, "mefs": 3}


def test_refusals_exit_with_their_report_and_import_nothing(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]))
    ok(cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('223AB', '224AC').replace('2007-11-02', 'hier')}\n",
                   encoding="utf-8")
    result = cli.invoke(app, ["import-csv", str(bad), "--uai", "0999001K"])
    assert result.exit_code == 2
    assert "line 3, column date_naissance: date_naissance.format" in result.stderr
    assert "hier" not in result.output
    assert "HADDAD" not in result.output
    assert cli.invoke(app, ["import-csv", str(bad), "--uai", "99"]).exit_code == 2
    assert ok(cli.invoke(app, ["status"]))["students"] == 0
