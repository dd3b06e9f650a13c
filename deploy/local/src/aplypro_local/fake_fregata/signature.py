"""The fake's own check of FREGATA's signature, written apart from the client's so a test proves they agree."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote


def signature_ok(headers: Mapping[str, str], *, key_id: str, secret: str, max_skew: float,
                 now: datetime | None = None) -> bool:
    """`Authorization: Signature keyId=..,algorithm=hmac-sha1,signature=..` over `date: <Date>`, Date recent."""
    date_header, auth = headers.get("date", ""), headers.get("authorization", "")
    scheme, _, rest = auth.partition(" ")
    if scheme != "Signature" or not date_header:
        return False
    params = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    if params.get("keyId") != key_id or params.get("algorithm") != "hmac-sha1":
        return False
    try:
        signed_at = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return False
    if signed_at.tzinfo is None or abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > max_skew:
        return False
    # SHA-1 is FREGATA's scheme, not our choice
    digest = hmac.new(secret.encode(), f"date: {date_header}".encode(), hashlib.sha1).digest()
    return hmac.compare_digest(unquote(params.get("signature", "")), base64.b64encode(digest).decode())
