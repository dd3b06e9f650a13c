"""The report end to end, pfmp and the calculator as real processes on the real broker and database: a PFMP
recorded after its student left (still in the school year) is validated, its payment request is blocked with
`pfmp_outside_schooling_dates`; the director's report (`aplypro-pfmp set-report`) releases it, nobody asking."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    AmountComputed,
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    PaymentRequestBlocked,
    PaymentRequested,
    RibOnFile,
    SchoolingExtended,
    SchoolingOpened,
    StudentRegistered,
    default_registry,
)
from aplypro_contracts.topics import CALCULATOR_EVENTS, DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually, produce, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UAI, INE = "0350001A", "000111229AB"
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")


async def test_a_report_releases_a_request_blocked_outside_the_schooling_dates(
    service_env: dict[str, str], tmp_path: Path,
) -> None:
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    bootstrap, database_url = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["DATABASE_URL"]
    stack = LocalStack(tmp_path, extra_env=service_env)
    stack.start_servers()
    pfmp_schema, calc_schema = f"{stack.schema_prefix}pfmp", f"{stack.schema_prefix}calculator"
    stack.start_service("pfmp")
    stack.start_service("calculator")
    conn = await asyncpg.connect(database_url)

    async def exists(sql: str, *args: Any) -> bool:
        try:
            return bool(await conn.fetchval(sql, *args))
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return False

    async def request_of(pfmp_id: uuid.UUID) -> tuple[str, list[str]] | None:
        try:
            row = await conn.fetchrow(f"SELECT state, reasons FROM {calc_schema}.payment_requests WHERE pfmp_id = $1 "
                                      "ORDER BY seq DESC LIMIT 1", pfmp_id)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None
        return None if row is None else (row["state"], list(row["reasons"]))

    def request_is(pfmp_id: uuid.UUID, expected: tuple[str, list[str]]) -> Any:
        async def check() -> bool:
            return await request_of(pfmp_id) == expected
        return check

    try:
        # Léa left her terminale on 30 June 2026; her DA was issued and she has a RIB.
        student, schooling_id = uuid.uuid4(), uuid.uuid4()
        schooling = SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student,
            establishment=Establishment(uai=UAI, name="LP test", academy_code="14"), class_label="TLE",
            school_year=2025, mef=MEF, start_date=date(2025, 9, 1), end_date=date(2026, 6, 30), version=1)
        identity = Identity(ine=INE, last_name="HOARAU", first_names=("Léa",), birth_date=date(2008, 3, 2))
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [
            (student, StudentRegistered(producer="students", version=1, student_id=student, identity=identity)),
            (student, schooling),
            (student, RibOnFile(producer="students", rib_id=uuid.uuid4(), student_id=student,
                                establishment_uai=UAI, owner_type="personal", version=1))])
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, [(student, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
            student_id=student, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a.pdf", sha256="0" * 64,
            size_bytes=1024))])
        await eventually(lambda: exists(f"SELECT count(*) > 0 FROM {pfmp_schema}.decisions d JOIN {pfmp_schema}.ribs_on_file r "
                                       f"ON r.student_id = $1 WHERE d.schooling_id = $2", student, schooling_id),
                         90, "pfmp knows the schooling's DA and the RIB")

        # A PFMP of July, inside school year 2025 but after she left: recorded and validated by pfmp.
        csv = tmp_path / "pfmps.csv"
        csv.write_text(f"ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n{INE};{UAI};2025;2026-07-06;2026-07-17;10\n")
        done = stack.run_command(["aplypro-pfmp", "import-csv", str(csv)])
        assert done.returncode == 0, done.stderr
        pfmp_id = await conn.fetchval(f"SELECT pfmp_id FROM {pfmp_schema}.pfmps WHERE schooling_id = $1", schooling_id)
        done = stack.run_command(["aplypro-pfmp", "validate-pfmps", str(pfmp_id), "--user", "director-1"])
        assert done.returncode == 0, done.stderr
        await eventually(request_is(pfmp_id, ("incomplete", ["pfmp_outside_schooling_dates"])), 90,
                         "the request blocked outside the schooling's dates")

        # A report on the PFMP's last day is refused; the director's report to 31 July releases the request.
        refused = stack.run_command(["aplypro-pfmp", "set-report", str(schooling_id), "--date", "2026-07-17",
                                     "--user", "director-1"])
        assert (refused.returncode, refused.stderr.split(":")[0]) == (1, "report_before_pfmp")
        done = stack.run_command(["aplypro-pfmp", "set-report", str(schooling_id), "--date", "2026-07-31",
                                  "--user", "director-1"])
        assert done.returncode == 0, done.stderr
        await eventually(request_is(pfmp_id, ("ready", [])), 90, "the request released by the report")

        registry = default_registry()
        pfmp_events = [registry.parse(r.value) for r in await read_topic(bootstrap, namespace + PFMP_EVENTS, idle_s=2)]
        assert [(e.extended_end_date, e.version) for e in pfmp_events if isinstance(e, SchoolingExtended)] == [
            (date(2026, 7, 31), 1)]
        calc_events = [registry.parse(r.value) for r in await read_topic(bootstrap, namespace + CALCULATOR_EVENTS,
                                                                         idle_s=2)]
        assert [(e.reasons, e.schema_version) for e in calc_events if isinstance(e, PaymentRequestBlocked)] == [
            (("pfmp_outside_schooling_dates",), 5)]
        assert [e.pfmp_id for e in calc_events if isinstance(e, PaymentRequested)] == [pfmp_id]
        # Priced in the old year's pool (2025), on its barème: the report never moves the PFMP to another year.
        assert {(e.school_year, e.amount_cents) for e in calc_events if isinstance(e, AmountComputed)} == {(2025, 20000)}
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"pfmp": True, "calculator": True}
