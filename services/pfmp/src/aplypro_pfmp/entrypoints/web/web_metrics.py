"""The web application's own counters (served on its ops port with the request metrics, http_ops.py): logins
by realm and outcome, logins refused by the rate limit. Labels are configured realm names and fixed outcome
words, never a user, an address or a claim."""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

LoginOutcome = Literal["ok", "no_role", "error"]

WEB_LOGINS = Counter(
    "aplypro_web_logins", "Login callbacks, per realm and outcome: ok, no_role (refused, no role), error (the "
    "provider's answer failed).", ["realm", "outcome"])
WEB_LOGINS_RATE_LIMITED = Counter(
    "aplypro_web_logins_rate_limited", "Login and callback requests refused by the per-address rate limit (429).")


def count_login(realm: str, outcome: LoginOutcome) -> None:
    WEB_LOGINS.labels(realm, outcome).inc()
