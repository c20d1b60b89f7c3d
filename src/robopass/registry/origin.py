"""The registry's ledger origin (SPEC §15): a schema-less URL prefix naming its log.

Pure. The origin is the checkpoint origin line, the log's note key name, the JSON tree head's
``origin`` and the passport ``iss``. By default it is the public URL's host and path plus
``/ledger`` (``https://registry.example.cn/`` → ``registry.example.cn/ledger``), so two
registries with different public URLs never share one. Without a public URL a random instance
label keeps it unique (``robopass.cn/3f9a1c07/ledger``); set ``--origin`` to choose one.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

__all__ = ["OLD_DEFAULT", "check", "default", "from_public_url"]

#: Every registry created before migration 0005 had this origin (shared by all of a country).
OLD_DEFAULT = "robopass.{country}/ledger"
_ORIGIN = re.compile(r"[^\s+]{1,200}")


def check(origin: str) -> str:
    """An origin is 1..200 characters without spaces, ``+``, a scheme or a trailing slash."""
    if not _ORIGIN.fullmatch(origin or ""):
        raise ValueError(f"origin {origin!r} must be 1-200 characters without spaces or '+'")
    if "://" in origin:
        raise ValueError(f"origin {origin!r} must not have a scheme (write host/path)")
    if origin.endswith("/"):
        raise ValueError(f"origin {origin!r} must not end with '/'")
    return origin


def from_public_url(public_url: str) -> str:
    """``https://host[:port]/path/`` → ``host[:port]/path/ledger``."""
    parts = urlsplit(public_url.strip())
    if not parts.netloc:
        raise ValueError(f"public URL {public_url!r} has no host")
    path = parts.path.rstrip("/")
    return check(f"{parts.netloc.lower()}{path}/ledger")


def default(country: str, public_url: str | None, label: str | None = None) -> str:
    """The origin ``robopass init`` gives a new registry: from the public URL when known,
    else ``robopass.<cc>/<label>/ledger`` with a random 8-hex-digit label."""
    if public_url:
        return from_public_url(public_url)
    return check(f"robopass.{country.lower()}/{label or secrets.token_hex(4)}/ledger")
