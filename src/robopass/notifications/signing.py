"""Webhook signatures: pure functions a receiver can copy (no database, no web).

The signed string is ``"{timestamp}.{body}"`` (timestamp = Unix seconds as sent in the
``X-Robopass-Timestamp`` header, body = the exact request bytes); the signature header is
``X-Robopass-Signature: v1=<hex HMAC-SHA256(secret, signed string)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

#: A receiver should refuse deliveries whose timestamp is further than this from its clock.
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-Robopass-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(secret: str, *, timestamp: str, body: bytes, signature: str,
           tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is valid and fresh."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"bad timestamp {timestamp!r}") from exc
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance_s:
        raise SignatureError(f"timestamp {ts} is more than {tolerance_s} s from now")
    expected = sign(secret, ts, body)
    candidates = [s.strip() for s in (signature or "").split(",") if s.strip()]
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match")
