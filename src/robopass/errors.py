"""One error hierarchy for the whole platform.

Services raise these; a single exception handler (``robopass.api``) maps them to HTTP status
codes and the ``{"error": {"code", "message", ...}}`` body of the stable API contract (SPEC §9).
The CLI prints the same messages. Nothing here imports web code.
"""

from __future__ import annotations

from typing import Any


class RobopassError(Exception):
    """Base class. ``code`` is a stable machine-readable string, ``message`` is for humans."""

    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        body.update(self.extra)
        return body


class Unauthorized(RobopassError):
    status = 401
    code = "unauthorized"


class Forbidden(RobopassError):
    status = 403
    code = "forbidden"


class NotFound(RobopassError):
    status = 404
    code = "not_found"


class Conflict(RobopassError):
    status = 409
    code = "conflict"


class RuleViolation(Conflict):
    """A lifecycle rule refused the request (SPEC §4); the attempt is recorded."""

    code = "rule_violation"


class InvalidInput(RobopassError):
    """Input that is well-formed JSON but wrong; ``field`` names the offending field."""

    status = 422
    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(message, code=code, **extra)


class PayloadTooLarge(RobopassError):
    status = 413
    code = "payload_too_large"


class RateLimited(RobopassError):
    status = 429
    code = "rate_limited"


class PeerError(RobopassError):
    """A federation peer could not be reached or answered something we cannot trust."""

    status = 502
    code = "peer_error"
