"""Helpers of the pfmp tests: students announced to pfmp as the students service would."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
from aplypro_contracts import Establishment, Identity, Mef, SchoolingOpened, StudentRegistered
from aplypro_pfmp.service_layer import projection


async def announce_student(pool: asyncpg.Pool, ine: str, uai: str = "0999001K") -> None:
    """One student with a 2025 schooling in `uai`, through pfmp's own projection handlers."""
    student_id = uuid.uuid4()
    opened = SchoolingOpened(
        producer="students", schooling_id=uuid.uuid4(), student_id=student_id,
        establishment=Establishment(uai=uai, name="LP test"), class_label="TLE PRO", school_year=2025,
        mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
        start_date=date(2025, 9, 1), version=1,
    )  # fmt: skip
    identity = Identity(ine=ine, last_name="HADDAD", first_names=("Mehdi",), birth_date=date(2007, 11, 2))
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_student_registered(conn, StudentRegistered(producer="students", version=1, student_id=student_id,
                                                                       identity=identity))
        await projection.on_schooling_opened(conn, opened)
