"""Runs the fake FREGATA with uvicorn on a free loopback port, in a thread of the calling process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aplypro_local.fake_fregata.app import create_app
from aplypro_local.fake_fregata.state import FakeFregataState
from aplypro_local.http_thread import serving


@dataclass(frozen=True)
class FakeFregataServer:
    root: str  # http://127.0.0.1:<port>/
    state: FakeFregataState

    @property
    def base_url(self) -> str:
        return f"{self.root}api"  # the client adds `/inscriptions`

    def env(self) -> dict[str, str]:
        """The APLYPRO_FREGATA_* settings that point a client at this server."""
        return {"APLYPRO_FREGATA_BASE_URL": self.base_url, "APLYPRO_FREGATA_KEY_ID": self.state.key_id,
                "APLYPRO_FREGATA_SECRET": self.state.secret}


@contextmanager
def serve(state: FakeFregataState | None = None, *, port: int = 0) -> Iterator[FakeFregataServer]:
    """The server runs until the block ends."""
    state = state or FakeFregataState()
    with serving(create_app(state), "fake FREGATA", port) as root:
        yield FakeFregataServer(root, state)
