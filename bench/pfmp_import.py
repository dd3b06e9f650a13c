"""Benchmark: a national PFMP file through `aplypro-pfmp import-csv`, before and after, in the same run.

    uv run python bench/pfmp_import.py --students 20000 --per-student 2
    uv run python bench/pfmp_import.py --students 20000 --baseline none      # this tree only
    uv run python bench/pfmp_import.py --students 20000 --baseline 10124a0   # against another commit
    uv run python bench/pfmp_import.py --students 20000 --baseline none --profile /tmp/pfmp-import.prof

One embedded PostgreSQL (or DATABASE_URL); N students, each with a schooling in the pfmp service's
projection (written straight into its tables: the import is what is measured), and a CSV file of
`--per-student` PFMPs each. The CLI runs as an operator runs it (a subprocess, the pfmp schema of its own
namespace) twice: the file recorded (every row new), then the same file again (every row unchanged: the
drill's re-import). The baseline is the pfmp package of another commit (`git archive` of
services/pfmp/src, put first on PYTHONPATH), on a schema of its own, with the same file; the rest of the
workspace is this tree's. Prints rows/s of each import and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2025
PERIODS = [("2025-11-03", "2025-11-21", 12), ("2026-01-05", "2026-01-23", 14), ("2026-03-02", "2026-03-20", 15),
           ("2026-05-04", "2026-05-22", 13)]


def uai_of(n: int) -> str:
    return f"{9100000 + n:07d}{'ABCDEFGHJKLMNPRSTUVWXYZ'[n % 23]}"


def ine_of(n: int) -> str:
    return f"{n:09d}AB"


def write_file(path: Path, students: int, per_student: int, establishments: int) -> int:
    lines = ["ine;uai;annee_scolaire;date_debut;date_fin;nb_jours"]
    for k in range(per_student):  # a file holds one period of every student, then the next
        start, end, days = PERIODS[k]
        lines += [f"{ine_of(n)};{uai_of(n % establishments)};{YEAR}-{YEAR + 1};{start};{end};{days}"
                  for n in range(students)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


async def prepare(database_url: str, namespace: str, students: int, establishments: int) -> None:
    """One schooling for each student in the pfmp schema of the namespace (migrated by the CLI)."""
    from aplypro_pfmp.config import PfmpSettings
    from aplypro_servicekit.db import create_pool

    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    try:
        ids = [(uuid.uuid4(), uuid.uuid4()) for _ in range(students)]
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "students", records=[(s, ine_of(n), f"NOM{n}", ["Prenom"]) for n, (s, _) in enumerate(ids)],
                columns=["student_id", "ine", "last_name", "first_names"])
            await conn.copy_records_to_table(
                "schoolings", records=[(sc, s, uai_of(n % establishments), YEAR, "student",
                                        date(YEAR, 9, 1), 1) for n, (s, sc) in enumerate(ids)],
                columns=["schooling_id", "student_id", "uai", "school_year", "status", "start_date", "version"])
            await conn.execute("ANALYZE")
    finally:
        await pool.close()


def baseline_source(ref: str, into: Path) -> Path:
    """services/pfmp/src of `ref`, extracted under `into`."""
    archive = subprocess.run([shutil.which("git") or "git", "-C", str(ROOT), "archive", ref, "services/pfmp/src"], check=True,
                             capture_output=True).stdout
    subprocess.run([shutil.which("tar") or "tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "services" / "pfmp" / "src"


CLI = "import sys; from aplypro_pfmp.entrypoints.cli import main; sys.argv[0] = 'aplypro-pfmp'; main()\n"


def cli(env: dict[str, str], *args: str, profile: Path | None = None) -> subprocess.CompletedProcess[str]:
    if profile is None:
        command = [sys.executable, "-c", CLI, *args]
    else:  # cProfile takes a script, not -c
        script = profile.with_suffix(".py")
        script.write_text(CLI, encoding="utf-8")
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), str(script), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def package_path(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", "import aplypro_pfmp; print(aplypro_pfmp.__file__)"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def timed_import(env: dict[str, str], path: Path, rows: int, expect: str, profile: Path | None = None) -> float:
    started = time.perf_counter()
    done = cli(env, "import-csv", str(path), profile=profile)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import-csv failed ({done.returncode}): {done.stderr[-2000:]}")
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    if counts[expect] != rows:
        raise SystemExit(f"expected {rows} {expect}, got {counts}")
    return elapsed


def run_variant(label: str, database_url: str, source: Path | None, path: Path, rows: int, students: int,
                establishments: int, profile: Path | None = None) -> dict[str, float]:
    namespace = f"bench-pfmp-import-{label}-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [os.environ.get("PYTHONPATH")])])
    where = package_path(env)
    if source is not None and not where.startswith(str(source)):
        raise SystemExit(f"the baseline is not the package imported: {where}")
    if cli(env, "status").returncode != 0:  # the schema migrated by the variant's own code
        raise SystemExit("aplypro-pfmp status failed")
    asyncio.run(prepare(database_url, namespace, students, establishments))
    started = time.perf_counter()
    if cli(env, "status").returncode != 0:
        raise SystemExit("aplypro-pfmp status failed")
    startup = time.perf_counter() - started  # the process and its pool, nothing imported: a yardstick
    print(f"{label}: `aplypro-pfmp status` (start-up yardstick) {startup:.1f} s", flush=True)
    first = timed_import(env, path, rows, "recorded", profile)
    print(f"{label}: recorded {rows} rows in {first:.1f} s ({rows / first:,.0f} rows/s)", flush=True)
    again = timed_import(env, path, rows, "unchanged")
    print(f"{label}: re-imported {rows} rows (unchanged) in {again:.1f} s ({rows / again:,.0f} rows/s)", flush=True)
    return {"recorded": rows / first, "unchanged": rows / again, "startup": startup}


@contextmanager
def database(work: Path) -> Iterator[str]:
    """DATABASE_URL when set, else an embedded PostgreSQL in `work`, stopped at the end."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    from aplypro_local.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres.start(work / "pgdata")
    try:
        yield postgres.url
    finally:
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--per-student", type=int, default=2, choices=range(1, len(PERIODS) + 1))
    parser.add_argument("--establishments", type=int, default=90)
    parser.add_argument("--baseline", default="main", help="git ref of the pfmp code to compare with; 'none': skip")
    parser.add_argument("--profile", type=Path, help="cProfile output of this tree's first import")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory(prefix="bench-pfmp-import-") as tmp:
        work = Path(tmp)
        with database(work) as database_url:
            path = work / "pfmps.csv"
            rows = write_file(path, args.students, args.per_student, args.establishments)
            results = {}
            if args.baseline != "none":
                source = baseline_source(args.baseline, work)
                results["before"] = run_variant("before", database_url, source, path, rows, args.students,
                                                args.establishments)
            results["after"] = run_variant("after", database_url, None, path, rows, args.students,
                                           args.establishments, args.profile)
    line = f"pfmp_import: rows={rows} recorded={results['after']['recorded']:,.0f}/s " \
           f"unchanged={results['after']['unchanged']:,.0f}/s"
    if "before" in results:
        line += "".join(f" {k}_ratio={results['after'][k] / results['before'][k]:.1f}" for k in ("recorded", "unchanged"))
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    print(line)


if __name__ == "__main__":
    main()
