"""An exclusion is set once, in the students service, and payment follows it: `aplypro-students exclusions add`
publishes ExclusionChanged, the calculator (a real process on the real broker) blocks the open request of a
schooling imported before with `excluded_schooling`; `exclusions remove` releases it. Before ExclusionChanged,
the calculator kept a list of its own and this request was paid unless an operator set both."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import Establishment, Mef, PfmpState, PfmpValidated, RibOnFile, SchoolingOpened
from aplypro_contracts.topics import PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually, produce

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UAI = "0999001K"  # in the students' sample directory
ESTABLISHMENTS = Path(__file__).parents[1] / "services" / "students" / "tests" / "data" / "establishments.csv"
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")


async def test_an_exclusion_added_in_the_students_service_blocks_the_payment_until_it_is_lifted(
    service_env: dict[str, str], tmp_path: Path,
) -> None:
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    bootstrap, database_url = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["DATABASE_URL"]
    stack = LocalStack(tmp_path, extra_env=service_env)
    stack.start_servers()
    calc = f"{stack.schema_prefix}calculator"
    stack.start_service("students")  # its relay publishes what the commands write to its outbox
    stack.start_service("calculator")
    conn = await asyncpg.connect(database_url)

    def request_is(pfmp_id: uuid.UUID, state: str, reasons: list[str]) -> Any:
        async def check() -> bool:
            try:
                row = await conn.fetchrow(f"SELECT state, reasons FROM {calc}.payment_requests WHERE pfmp_id = $1 "
                                          "ORDER BY seq DESC LIMIT 1", pfmp_id)
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                return False
            return row is not None and (row["state"], list(row["reasons"])) == (state, reasons)
        return check

    def command(*args: str) -> None:
        done = stack.run_command(["aplypro-students", *args])
        assert done.returncode == 0, done.stderr[-2000:]

    try:
        command("load-establishments", str(ESTABLISHMENTS))
        student, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [
            (student, SchoolingOpened(
                producer="students", schooling_id=schooling_id, student_id=student,
                establishment=Establishment(uai=UAI, name="LP test", academy_code="14"), class_label="TLE",
                school_year=2025, mef=MEF, start_date=date(2025, 9, 1), end_date=None, version=1)),
            (student, RibOnFile(producer="students", rib_id=uuid.uuid4(), student_id=student,
                                establishment_uai=UAI, owner_type="personal", version=1))])
        pfmp = PfmpState(pfmp_id=pfmp_id, schooling_id=schooling_id, student_id=student,
                         start_date=date(2025, 11, 3), end_date=date(2025, 11, 14), day_count=10,
                         status="validated", created_seq=1, rank=1, version=1)
        await produce(bootstrap, namespace + PFMP_EVENTS, [(student, PfmpValidated(producer="pfmp", pfmp=pfmp))])
        await eventually(request_is(pfmp_id, "incomplete", ["missing_attributive_decision"]), 90,
                         "the request waiting for its DA")

        command("exclusions", "add", UAI, "--user", "ops-1")
        await eventually(request_is(pfmp_id, "incomplete", ["pfmp_amount", "missing_attributive_decision",
                                                            "excluded_schooling"]), 90,
                         "the request blocked by the exclusion set in the students service")
        command("exclusions", "remove", UAI)
        await eventually(request_is(pfmp_id, "incomplete", ["missing_attributive_decision"]), 90,
                         "the request released when the exclusion is lifted")
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"students": True, "calculator": True}
