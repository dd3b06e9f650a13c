"""A fake SYGNE (imports.md §3.1) served over real HTTP: token endpoint, list, detail and history, faults.

Tests and the demo start it with `serve(state)`; `python -m aplypro_local.fake_sygne` runs it alone.
"""

from aplypro_local.fake_sygne.server import FakeSygneServer, serve
from aplypro_local.fake_sygne.state import FakeSygneState, Fault

__all__ = ["FakeSygneServer", "FakeSygneState", "Fault", "serve"]
