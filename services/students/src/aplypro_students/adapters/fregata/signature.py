"""FREGATA's request signature (imports.md §3.2): HMAC-SHA1 of `date: <Date header>` under the shared secret.

    Date: Tue, 04 Nov 2025 08:00:00 GMT
    Authorization: Signature keyId=<key id>,algorithm=hmac-sha1,signature=<URL-encoded Base64 of the HMAC>
"""

from __future__ import annotations

import base64
import email.utils
import hmac
from datetime import UTC, datetime
from urllib.parse import quote


def signature(secret: str, date_header: str) -> str:
    """The URL-encoded Base64 HMAC-SHA1 of `date: <date_header>` (SHA-1 is FREGATA's choice, not ours)."""
    digest = hmac.new(secret.encode(), f"date: {date_header}".encode(), "sha1").digest()
    return quote(base64.b64encode(digest).decode(), safe="")


def signed_headers(key_id: str, secret: str, now: datetime | None = None) -> dict[str, str]:
    """`Date` (an HTTP-date, now) and the `Authorization` signing it; made afresh for every request."""
    date_header = email.utils.format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)
    return {"Date": date_header,
            "Authorization": f"Signature keyId={key_id},algorithm=hmac-sha1,signature={signature(secret, date_header)}"}
