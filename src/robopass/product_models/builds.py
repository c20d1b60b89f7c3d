"""Approved software builds (SPEC §13, like UNECE R156's software identification numbers).

A filing's ``software.builds`` lists ``[{version, sha256?}]``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def build_versions(software: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The approved builds of one model version's software block ([] when none are listed)."""
    builds = (software or {}).get("builds") or []
    return [dict(b) for b in builds if isinstance(b, Mapping) and b.get("version")]


def is_approved_build(builds: Iterable[Mapping[str, Any]], firmware: str | None,
                      sha256: str | None = None) -> bool:
    """True when ``firmware`` (a reported version string) is one of ``builds``.

    Versions compare exactly after stripping surrounding blanks (``2.4.1`` is not ``2.4.10``).
    When both the build and the report carry a SHA-256, the digests must match too
    (case-insensitive hex). No firmware reported is not an approved build.
    """
    if firmware is None or not str(firmware).strip():
        return False
    wanted = str(firmware).strip()
    for build in builds:
        if str(build.get("version", "")).strip() != wanted:
            continue
        digest = build.get("sha256")
        if sha256 and digest and str(digest).lower() != sha256.lower():
            continue
        return True
    return False
