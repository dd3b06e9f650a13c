"""The ASP side of a local run (the demo and `aplypro up`): the fake ASP over SFTP and the fake RNVP over HTTP,
started together, with the gateway's settings to reach both.

Without the RNVP URL the gateway refuses an address-correction file for any student living in France
(`rnvp_unavailable`, asp-exchange.md §4.9), so both run wherever the gateway runs against the fake ASP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.fake_asp.schema import project_xsd
from aplypro_local.fake_rnvp import FakeRnvpState, serve


@dataclass(frozen=True)
class AspFakes:
    asp: FakeAspInThread
    rnvp: FakeRnvpState
    rnvp_url: str
    env: dict[str, str]  # APLYPRO_ASP_SFTP_* and APLYPRO_ASP_RNVP_URL, for the gateway's processes


@contextmanager
def asp_fakes(root: Path, behaviour: Behaviour | None = None,
              clock: Callable[[], datetime] | None = None) -> Iterator[AspFakes]:
    """Both fakes for the block's lifetime. The fake ASP keeps its uploads to be looked at and checks each
    against the project's XSD (§10); `clock`: its clock (names, dates, weekday rules), else the wall clock."""
    asp = FakeAspInThread(root, behaviour or Behaviour(remove_taken=False, validate=project_xsd), clock=clock)
    try:
        env = dict(asp.start())
        with serve() as (url, state):
            env["APLYPRO_ASP_RNVP_URL"] = url
            yield AspFakes(asp, state, url, env)
    finally:
        asp.stop()
