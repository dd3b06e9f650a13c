"""Hostile PFMP files (issue 9) through `aplypro-pfmp import-csv` on the real PostgreSQL.

Each one is refused with a line-numbered report on stderr, exit status 2, and no PFMP recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aplypro_pfmp.entrypoints.cli import app
from aplypro_servicekit.record_size import set_max_record_bytes
from typer.testing import CliRunner, Result

from .pfmp_world import announce_student

pytestmark = pytest.mark.integration
HEADER = "ine;uai;annee_scolaire;date_debut;date_fin;nb_jours"
INE = "000111223AB"
GOOD = f"{INE};0999001K;2025-2026;2025-11-03;2025-11-21;12"  # the known student's PFMP
SPRING = f"{INE};0999001K;2025-2026;2026-03-02;2026-03-13;8"  # another of their PFMPs
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
async def pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated schema (conftest) with the one student these tests import PFMPs for."""
    await announce_student(pool, INE)
    return pool


async def import_csv(pool: asyncpg.Pool, path: Path, database_url: str, namespace: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    return await asyncio.to_thread(CliRunner().invoke, app, ["import-csv", str(path)], env=env)


async def recorded(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM pfmps")
        return count


def write(tmp_path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "pfmps.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


CONTROL = "control characters U+0000-U+001F and U+007F are not allowed"
NOT_A_DATE = "not a date (YYYY-MM-DD or DD/MM/YYYY)"
CASES = {
    "latin-1": ((HEADER, GOOD, SPRING.replace("0999001K", "0999001É")), "latin-1",
                ["line 3, column *: not UTF-8 text: save it as UTF-8 (with or without BOM)"]),
    "over the csv field limit": ((HEADER, GOOD, SPRING + "x" * 200_000, GOOD), "utf-8",
                                 ["line 3, column *: not readable as CSV: field larger than field limit (131072)"]),
    "extra cells": ((HEADER, GOOD, SPRING + ";;8"), "utf-8", ["line 3, column *: more cells than the header"]),
    "school year backwards": ((HEADER, GOOD, SPRING.replace("2025-2026", "2025-1999")), "utf-8",
                              ["line 3, column annee_scolaire: not a school year (2025-2026 or 2025)"]),
    "non-ASCII digits": ((HEADER, GOOD, SPRING.replace(";8", ";" + "8".translate(ARABIC_INDIC)),
                          SPRING.replace("2026-03-02", "2026-03-02".translate(ARABIC_INDIC)),
                          SPRING.replace(";8", ";²")), "utf-8",
                         ["line 3, column nb_jours: not a whole number of days (ASCII digits)",
                          f"line 4, column date_debut: {NOT_A_DATE}",
                          "line 5, column nb_jours: not a whole number of days (ASCII digits)"]),
    "control characters and over-long codes": (
        (HEADER, GOOD, SPRING.replace(INE, INE[:5] + "\x00" + INE[5:]), SPRING.replace("0999001K", "0999001K\t"),
         SPRING.replace(INE, INE * 40)), "utf-8",
        [f"line 3, column ine: {CONTROL}",
         f"line 4, column uai: {CONTROL}",
         "line 5, column ine: not an INE (10 digits and a letter, or 9 digits and 2 letters)"]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_hostile_file_is_refused_by_line_and_records_nothing(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, case: str,
) -> None:
    lines, encoding, report = CASES[case]
    result = await import_csv(pool, write(tmp_path, *lines, encoding=encoding), database_url, namespace)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [*report, f"nothing recorded: {len(report)} error(s)"]
    assert await recorded(pool) == 0


async def test_lines_are_counted_in_the_file_even_past_blank_lines_and_quoted_cells(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    # line 2 is blank and the row of line 3 spans two lines: the unknown student is on line 5
    unknown = SPRING.replace(INE, "000111299ZZ")
    path = write(tmp_path, HEADER, "", GOOD.replace("0999001K", '"0999001K\n"'), unknown)
    result = await import_csv(pool, path, database_url, namespace)
    assert result.stderr.splitlines()[0] == f"line 3, column uai: {CONTROL}"
    path = write(tmp_path, HEADER, "", GOOD, "", unknown)
    result = await import_csv(pool, path, database_url, namespace)
    assert result.exit_code == 2, result.output  # refused when recording: the file was well-formed
    assert result.stderr.splitlines()[0].startswith("line 5: unknown_schooling:")
    assert await recorded(pool) == 0


@pytest.fixture
def small_records() -> Iterator[None]:
    set_max_record_bytes(300)  # a PfmpRecorded is about 600 bytes
    yield
    set_max_record_bytes(None)


async def test_a_row_whose_event_is_too_large_is_reported_by_line(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, small_records: None,
) -> None:
    result = await import_csv(pool, write(tmp_path, HEADER, "", GOOD), database_url, namespace)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0].startswith("line 3: record_too_large: record of ")
    assert await recorded(pool) == 0


async def test_a_good_file_is_recorded(pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path) -> None:
    result = await import_csv(pool, write(tmp_path, HEADER, GOOD, SPRING, encoding="utf-8-sig"), database_url,
                              namespace)
    assert result.exit_code == 0, result.output
    assert await recorded(pool) == 2
