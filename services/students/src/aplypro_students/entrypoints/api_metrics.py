"""The internal API's RIB entries, counted for Prometheus (served on its ops port with the request metrics,
servicekit http_ops.py): lines accepted, and refusals by their stable code (`iban.checksum`...). Never the
establishment, the student or the bank data."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter

RIBS_ACCEPTED = Counter(
    "aplypro_students_api_ribs_accepted", "RIB lines accepted by the internal API (recorded or unchanged).")
RIBS_REFUSED = Counter(
    "aplypro_students_api_ribs_refused", "Refusals of RIB lines by the internal API, per reason code (one per "
    "refused field; a refused request writes nothing).", ["reason"])


def count_refusals(codes: Iterable[str]) -> None:
    for code, count in Tally(codes).items():
        RIBS_REFUSED.labels(code).inc(count)
