"""Benchmark: pfmp's stage of the national bench, `aplypro-pfmp import-csv` then `validate`, beside PostgreSQL's
own bulk writes of the same rows (the yardstick), in one run.

    uv run python bench/pfmp_validate.py --students 20000                    # ≈ 40,000 PFMPs
    uv run python bench/pfmp_validate.py --students 100000                   # ≈ 200,000 PFMPs
    uv run python bench/pfmp_validate.py --students 20000 --baseline main     # main's pfmp first, same run
    uv run python bench/pfmp_validate.py --students 20000 --py-spy /tmp/pfmp  # flame graphs of both CLIs

The national population (bench/national_population.py: 1-3 PFMPs a student, 2 on average, in the three
windows of 2025-2026) written into pfmp's projection as the consumers leave it once the students stage and
the DAs are done (students, schoolings, a RIB on file for each student's establishment, an issued DA for each
schooling), straight into its tables: the CLIs are what is measured. Then, as the national bench does, the
CLIs as subprocesses: `import-csv` of the file (every row recorded), `validate --user national-bench` (every
PFMP validated). The yardsticks, on the same database right after: COPY of the file's rows into a scratch
table (import), `INSERT INTO scratch SELECT * FROM pfmps` of the same PFMPs (validate). Prints rows/s of each
and its ratio to the yardstick (the lower, the closer to what PostgreSQL itself does). `--baseline REF`: the
pfmp package of another commit (bench/pfmp_import.py's `git archive` of services/pfmp/src, its migrations
included) runs first on a namespace of its own.
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
from pathlib import Path

from national_population import YEAR, _write, generate
from pfmp_import import CLI, baseline_source, database, package_path


async def prepare(database_url: str, namespace: str, students: int, population_path: Path) -> int:
    """pfmp's projection of the population (migrated by the CLI first) and its PFMP file; returns the rows."""
    from datetime import date

    from aplypro_pfmp.config import PfmpSettings
    from aplypro_servicekit.db import create_pool

    population = generate(students)
    _write(population_path, ["ine", "uai", "annee_scolaire", "date_debut", "date_fin", "nb_jours"],
           ([p.ine, p.uai, f"{YEAR}-{YEAR + 1}", p.start.isoformat(), p.end.isoformat(), str(p.days)]
            for p in population.pfmps))
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    try:
        ids = [(uuid.uuid4(), uuid.uuid4(), s) for s in population.students]
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "students", records=[(st, s.ine, f"NOM{s.ine[:9]}", ["Prenom"]) for st, _, s in ids],
                columns=["student_id", "ine", "last_name", "first_names"])
            await conn.copy_records_to_table(
                "schoolings", records=[(sc, st, s.uai, YEAR, "student", date(YEAR, 9, 1), 1, s.klass)
                                       for st, sc, s in ids],
                columns=["schooling_id", "student_id", "uai", "school_year", "status", "start_date", "version",
                         "class_label"])
            await conn.copy_records_to_table("ribs_on_file", records=[(st, s.uai) for st, _, s in ids],
                                             columns=["student_id", "uai"])
            await conn.copy_records_to_table("decisions", records=[(sc, "attribution", 1) for _, sc, _ in ids],
                                             columns=["schooling_id", "kind", "version"])
            await conn.execute("ANALYZE")
    finally:
        await pool.close()
    return len(population.pfmps)


async def yardsticks(database_url: str, namespace: str, path: Path) -> tuple[float, float]:
    """Seconds of PostgreSQL's COPY of the file into a scratch table, and of a bare INSERT ... SELECT of the
    recorded PFMPs (the same count as validated)."""
    from aplypro_pfmp.config import PfmpSettings
    from aplypro_servicekit.db import create_pool

    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE scratch_rows (ine text, uai text, annee text, debut date, fin date, "
                               "jours int)")
            started = time.perf_counter()
            with path.open("rb") as source:
                await conn.copy_to_table("scratch_rows", source=source, format="csv", delimiter=";", header=True)
            copy = time.perf_counter() - started
            await conn.execute("CREATE TABLE scratch_pfmps (LIKE pfmps)")
            started = time.perf_counter()
            await conn.execute("INSERT INTO scratch_pfmps SELECT * FROM pfmps")
            insert = time.perf_counter() - started
            await conn.execute("DROP TABLE scratch_rows, scratch_pfmps")
    finally:
        await pool.close()
    return copy, insert


def cli(env: dict[str, str], args: list[str], spy: Path | None) -> tuple[float, dict[str, object]]:
    command = [sys.executable, "-c", CLI, *args]
    if spy is not None:
        command = [shutil.which("py-spy") or "py-spy", "record", "--rate", "50", "--subprocesses", "--format",
                   "speedscope" if spy.suffix == ".json" else "flamegraph", "-o", str(spy), "--", *command]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return elapsed, json.loads(lines[-1])


def run_variant(label: str, database_url: str, source: Path | None, students: int, work: Path,
                spy: Path | None) -> dict[str, float]:
    """One variant's CLIs on a namespace of its own; rows/s of each and of the yardsticks."""
    namespace = f"bench-pfmp-validate-{label}-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [os.environ.get("PYTHONPATH")])])
        if not package_path(env).startswith(str(source)):
            raise SystemExit("the baseline is not the package imported")
    if subprocess.run([sys.executable, "-c", CLI, "status"], env=env, capture_output=True, check=False).returncode:
        raise SystemExit("aplypro-pfmp status failed")  # the schema, migrated by the variant's own code
    path = work / f"pfmps-{label}.csv"
    rows = asyncio.run(prepare(database_url, namespace, students, path))
    imported, counts = cli(env, ["import-csv", str(path)], None if spy is None else spy.with_name(
        f"{spy.name}-{label}-import.svg"))
    if counts.get("recorded") != rows:
        raise SystemExit(f"expected {rows} recorded, got {counts}")
    print(f"{label}: import-csv {rows} rows in {imported:.1f} s ({rows / imported:,.0f} rows/s)", flush=True)
    validated, report = cli(env, ["validate", "--user", "national-bench"], None if spy is None else spy.with_name(
        f"{spy.name}-{label}-validate.svg"))
    if report != {"validated": rows, "skipped": {}}:
        raise SystemExit(f"expected {rows} validated, got {report}")
    print(f"{label}: validate {rows} PFMPs in {validated:.1f} s ({rows / validated:,.0f} PFMPs/s)", flush=True)
    copy, insert = asyncio.run(yardsticks(database_url, namespace, path))
    print(f"{label}: yardstick COPY of the file {copy:.2f} s ({rows / copy:,.0f} rows/s), INSERT ... SELECT of the "
          f"PFMPs {insert:.2f} s ({rows / insert:,.0f} rows/s)", flush=True)
    return {"rows": rows, "import": rows / imported, "validate": rows / validated,
            "import_x": imported / copy, "validate_x": validated / insert}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--baseline", default="none", help="git ref of the pfmp code to compare with first")
    parser.add_argument("--py-spy", type=Path, help="prefix of py-spy flame graphs (PREFIX-after-import.svg, ...)")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory(prefix="bench-pfmp-validate-") as tmp:
        work = Path(tmp)
        with database(work) as database_url:
            results = {}
            if args.baseline != "none":
                results["before"] = run_variant("before", database_url, baseline_source(args.baseline, work),
                                                args.students, work, args.py_spy)
            results["after"] = run_variant("after", database_url, None, args.students, work, args.py_spy)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    for label, r in results.items():
        print(f"pfmp_validate {label}: pfmps={r['rows']:.0f} import={r['import']:,.0f}/s ({r['import_x']:.0f}x COPY) "
              f"validate={r['validate']:,.0f}/s ({r['validate_x']:.0f}x INSERT...SELECT)")
    if "before" in results:
        print(f"ratio after/before: import={results['after']['import'] / results['before']['import']:.1f} "
              f"validate={results['after']['validate'] / results['before']['validate']:.1f}")


if __name__ == "__main__":
    main()
