"""Obsolete INSEE commune codes (imports.md §4): remapped at import through the exception table, counted in the
import report; the table is loaded from a CSV by `load-commune-exceptions`, a refused line loads nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from aplypro_students.adapters.csv_communes import SAMPLE, read_commune_exceptions_csv
from aplypro_students.domain.communes import CommuneKind
from aplypro_students.domain.report import InvalidFile
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.reference import load_commune_exceptions
from typer.testing import CliRunner

from .test_reconciliation_rules_postgres import Db, db, row

__all__ = ["db"]  # the fixture, shared with the reconciliation rules

pytestmark = pytest.mark.integration
COLUMNS = "type;ancien_code;nouveau_code"


async def test_an_obsolete_birth_and_residence_commune_are_stored_with_their_new_code(db: Db) -> None:
    exceptions = read_commune_exceptions_csv(db.write_csv(
        COLUMNS, "naissance;35001;35238", "residence;74011;74010", "residence;35238;35999"))
    async with db.pool.acquire() as conn, conn.transaction():
        assert await load_commune_exceptions(conn, exceptions) == {"birth": 1, "residence": 2}
    # born in 35001 (obsolete as a birth commune), living in 74011 (obsolete as a residence)
    line = row(born="2007-11-02;M;35001;99100", address="8 rue Pasteur;74000;74011;ANNECY;99100")
    mark = await db.mark()
    summary = await db.load(line)
    [student] = await db.students()
    assert student["birth_city_insee"] == "35238"
    assert '"city_insee": "74010"' in student["address"]
    assert summary.communes_remapped == 1
    counts = await db.pool.fetchval("SELECT counts FROM imports WHERE import_id = $1", summary.import_id)
    assert '"communes_remapped": 1' in counts
    [registered, _opened] = await db.events_since(mark)
    assert (registered.identity.birth_city_insee, registered.identity.address.city_insee) == ("35238", "74010")
    await db.unchanged_on_reimport(line)


async def test_a_student_stored_with_the_old_code_takes_the_new_one_once(db: Db) -> None:
    line = row(born="2007-11-02;M;35001;99100")
    await db.load(line)
    async with db.pool.acquire() as conn, conn.transaction():
        await load_commune_exceptions(conn, read_commune_exceptions_csv(db.write_csv(COLUMNS, "naissance;35001;35238")))
    summary = await db.load(line)
    assert (summary.new, summary.changed, summary.communes_remapped) == (0, 1, 1)
    assert [s["birth_city_insee"] for s in await db.students()] == ["35238"]
    await db.unchanged_on_reimport(line)


def test_the_sample_is_read() -> None:
    table = read_commune_exceptions_csv(SAMPLE).table
    assert table[CommuneKind.BIRTH, "74011"] == "74010"
    assert table[CommuneKind.RESIDENCE, "14472"] == "14666"


def test_each_bad_line_is_refused_with_its_line_column_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "communes.csv"
    path.write_text("\n".join([COLUMNS, "naissance;35001;35238", "domicile;35001;35238", "residence;3500;35238",
                               "naissance;35001;35239", "residence;74011;74011", "residence;35238;35999",
                               "residence;35999;36000"]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidFile) as refused:
        read_commune_exceptions_csv(path)
    assert [(e.line, e.code) for e in refused.value.errors] == [
        (3, "type.unknown"), (4, "ancien_code.format"), (5, "ancien_code.conflict"), (6, "nouveau_code.same"),
        (7, "nouveau_code.remapped")]


def test_the_command_refuses_a_bad_file_and_loads_nothing(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "communes.csv"
    path.write_text(f"{COLUMNS}\nnaissance;35001;35238\nnaissance;35A01;35238\n", encoding="utf-8")
    result = cli.invoke(app, ["load-commune-exceptions", str(path)])
    assert result.exit_code == 2
    assert "line 3, column ancien_code: ancien_code.format" in result.stderr
    assert "nothing loaded: 1 error(s)" in result.stderr
    loaded = cli.invoke(app, ["load-commune-exceptions"])  # the sample shipped
    assert loaded.exit_code == 0, loaded.output
    assert loaded.stdout.strip() == '{"birth": 2, "residence": 4}'
