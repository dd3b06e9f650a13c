"""A fake FREGATA (imports.md §3.2) served over real HTTP: the signed inscriptions endpoint, and faults.

The signature is checked for real (HMAC-SHA1 of the `Date` header under the fake's secret, the date within
a few minutes of now). Tests and the demo start it with `serve(state)`; `python -m aplypro_local.fake_fregata`
runs it alone.
"""

from aplypro_local.fake_fregata.server import FakeFregataServer, serve
from aplypro_local.fake_fregata.state import FakeFregataState, Fault

__all__ = ["FakeFregataServer", "FakeFregataState", "Fault", "serve"]
