"""Runs the fake SYGNE with uvicorn on a free loopback port, in a thread of the calling process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aplypro_local.fake_sygne.app import create_app
from aplypro_local.fake_sygne.fast_path import with_fast_path
from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET, FakeSygneState
from aplypro_local.http_thread import serving


@dataclass(frozen=True)
class FakeSygneServer:
    root: str  # http://127.0.0.1:<port>/
    state: FakeSygneState

    @property
    def base_url(self) -> str:
        return f"{self.root}api/"  # ends with `/`, as APLYPRO_SYGNE_BASE_URL must

    @property
    def token_url(self) -> str:
        return f"{self.root}token"

    def env(self) -> dict[str, str]:
        """The APLYPRO_SYGNE_* settings that point a client at this server."""
        return {"APLYPRO_SYGNE_BASE_URL": self.base_url, "APLYPRO_SYGNE_TOKEN_URL": self.token_url,
                "APLYPRO_SYGNE_CLIENT_ID": CLIENT_ID, "APLYPRO_SYGNE_SECRET": SECRET}


@contextmanager
def serve(state: FakeSygneState | None = None, *, port: int = 0) -> Iterator[FakeSygneServer]:
    """The server runs until the block ends."""
    state = state or FakeSygneState()
    with serving(with_fast_path(create_app(state), state), "fake SYGNE", port) as root:
        yield FakeSygneServer(root, state)
