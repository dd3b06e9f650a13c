"""Key material for the fake ASP and its clients: a host key, a client key, authorized_keys, known_hosts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncssh


@dataclass(frozen=True)
class KeyFiles:
    host_key: Path  # the server's private host key
    host_public: str  # its public line, for known_hosts
    client_key: Path  # the gateway's private key (APLYPRO_ASP_SFTP_KEY_PATH)
    authorized_keys: Path  # the server accepts the client key listed here


def _write_key(path: Path, key: asyncssh.SSHKey) -> None:
    key.write_private_key(str(path))
    path.chmod(0o600)


def ensure_host_key(path: Path) -> str:
    """The host key at `path`, generated when absent; returns its public line."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_key(path, asyncssh.generate_private_key("ssh-ed25519"))
    return asyncssh.read_private_key(str(path)).export_public_key().decode().strip()


def generate_keys(folder: Path) -> KeyFiles:
    """Fresh ed25519 keys in `folder` (a test's tmp_path, or the local stack's state folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    host_public = ensure_host_key(folder / "fake_asp_host_key")
    client = asyncssh.generate_private_key("ssh-ed25519", comment="aplypro-asp-gateway")
    _write_key(folder / "gateway_key", client)
    authorized = folder / "authorized_keys"
    authorized.write_bytes(client.export_public_key())
    return KeyFiles(folder / "fake_asp_host_key", host_public, folder / "gateway_key", authorized)


def known_hosts_line(host: str, port: int, host_public: str) -> str:
    pattern = host if port == 22 else f"[{host}]:{port}"  # OpenSSH's form for a non-standard port
    return f"{pattern} {host_public}\n"


def write_known_hosts(path: Path, host: str, port: int, host_public: str) -> Path:
    path.write_text(known_hosts_line(host, port, host_public))
    return path
