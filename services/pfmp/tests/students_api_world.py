"""The students service's internal API as the web tests meet it: a real `aplypro-students api` process on a free
port with its own schema, and students written into that schema as the students service's import would have
(the same ids as in pfmp's projection, which web_world.seed_student fills)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg
import httpx2
import pytest
from aplypro_pfmp.config import PfmpSettings
from pydantic import SecretStr

from .web_world import Seeded

TOKEN = "web-tests-service-token"


@dataclass(frozen=True)
class StudentsApi:
    url: str
    token: SecretStr
    database_url: str
    schema: str
    log: Path

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": self.schema})
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def enrol(self, student: Seeded, uai: str, *, class_label: str = "TLE PRO",
                    first_names: tuple[str, ...] = ("Mehdi",)) -> None:
        """The student and their 2025 schooling in `uai`, as the students service holds them."""
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": self.schema})
        try:
            async with conn.transaction():
                await conn.execute("INSERT INTO establishments (uai, name) VALUES ($1, 'LP test') "
                                   "ON CONFLICT DO NOTHING", uai)
                class_id = await conn.fetchval(
                    "INSERT INTO classes (class_id, uai, school_year, label, mef_code) VALUES ($1, $2, 2025, $3, "
                    "'2473121133') ON CONFLICT (uai, school_year, label, mef_code) DO UPDATE SET label = "
                    "EXCLUDED.label RETURNING class_id", uuid.uuid4(), uai, class_label)
                await conn.execute(
                    "INSERT INTO students (student_id, ine, last_name, first_names, birth_date, sex, identity_source) "
                    "VALUES ($1, $2, $3, $4, $5, 'male', 'csv')", student.student_id, student.ine, student.last_name,
                    list(first_names), date(2007, 11, 2))
                await conn.execute(
                    "INSERT INTO schoolings (schooling_id, student_id, class_id, status, start_date, source) "
                    "VALUES ($1, $2, $3, 'student', $4, 'csv')", student.schooling_id, student.student_id,
                    class_id, date(2025, 9, 1))
        finally:
            await conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def students_api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudentsApi]:
    """One API process per test module, on a namespace of its own (each test seeds its own students)."""
    namespace, port = f"t{uuid.uuid4().hex[:10]}.", _free_port()
    log = tmp_path_factory.mktemp("students-api") / "api.log"
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_STUDENTS_API_TOKEN": TOKEN, "APLYPRO_STUDENTS_API_PORT": str(port)}
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "aplypro_students", "api"], env=env, stdout=out,
                                   stderr=out, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # the machine is shared: a slow start is not a failure
    try:
        while True:
            try:
                if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the students API did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("students")  # servicekit's rule
        yield StudentsApi(url, SecretStr(TOKEN), database_url, schema, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
