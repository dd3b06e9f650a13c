"""The fake ASP SFTP server of aplypro_local, started in the test's event loop on a free port with keys
generated in tmp, and the gateway's SFTP settings pointing at it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aplypro_asp_gateway.adapters.sftp import SftpConfig, SftpTransport
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.model import PaymentRecord
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_local.fake_asp import Behaviour, FakeAsp, KeyFiles, generate_keys, write_known_hosts

from .conftest import PARAMS, lea_request

USER = "aplypro"
# The fake's clock on a weekday by default: it notes a weekend upload as a violation, and a test must not
# depend on the day CI runs it (a test of the weekday rules passes its own clock).
A_WEDNESDAY = datetime(2026, 5, 20, 10, 30, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    fake: FakeAsp
    keys: KeyFiles
    known_hosts: Path

    def config(self, **changes: Any) -> SftpConfig:
        config = SftpConfig(host="127.0.0.1", port=self.fake.port, user=USER, known_hosts=self.known_hosts,
                            key_path=self.keys.client_key, timeout_s=10)
        return replace(config, **changes)

    def transport(self, **changes: Any) -> SftpTransport:
        return SftpTransport(self.config(**changes))

    def env(self) -> dict[str, str]:
        """The gateway's settings, by their environment names, for this server."""
        return {"APLYPRO_ASP_SFTP_HOST": "127.0.0.1", "APLYPRO_ASP_SFTP_PORT": str(self.fake.port),
                "APLYPRO_ASP_SFTP_USER": USER, "APLYPRO_ASP_SFTP_KEY_PATH": str(self.keys.client_key),
                "APLYPRO_ASP_SFTP_KNOWN_HOSTS": str(self.known_hosts),
                "APLYPRO_ASP_SFTP_UPLOAD_DIR": "depot", "APLYPRO_ASP_SFTP_RETURN_DIR": "retour"}


@asynccontextmanager
async def fake_asp(tmp_path: Path, behaviour: Behaviour | None = None, **options: Any) -> AsyncIterator[World]:
    keys = generate_keys(tmp_path / "keys")
    options.setdefault("clock", lambda: A_WEDNESDAY)
    async with FakeAsp(tmp_path / "asp", keys.host_key, keys.authorized_keys, behaviour, **options) as fake:
        known_hosts = write_known_hosts(tmp_path / "keys" / "known_hosts", "127.0.0.1", fake.port, keys.host_public)
        yield World(fake, keys, known_hosts)


def sample_file(*record_ids: int, schooling: uuid.UUID | None = None) -> bytes:
    """A real payment file (the builder's bytes) of Léa's sample record under these idEnregistrement, each
    in a schooling of its own (so a DA number of its own), or all in `schooling`."""
    records = []
    for n, record_id in enumerate(record_ids or (4242,)):
        schooling_id = schooling or uuid.uuid5(uuid.NAMESPACE_OID, str(record_id))
        record = prepare(lea_request(record_id=record_id, pfmp_rank=n + 1, schooling_id=schooling_id), PARAMS)
        assert isinstance(record, PaymentRecord)
        records.append(record)
    return payment_file(PARAMS, records, date(2026, 5, 20))
