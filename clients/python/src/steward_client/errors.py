"""Errors raised by the Steward client.

Every failure the API reports arrives as a :class:`StewardError` carrying what the
server said: the HTTP status, the error code (``NOT_FOUND``, ``FORBIDDEN``, ``INVALID``,
``PRECONDITION_FAILED``, ``CONFLICT``…), the message (a full sentence meant for people)
and, for invalid input, the name of the field at fault.
"""

from __future__ import annotations

import json
from typing import Any, List, Mapping, Optional

__all__ = ["StewardError", "ChecksumError", "WaitTimeout"]


class StewardError(Exception):
    """A request Steward refused or could not answer.

    Attributes:
        status: the HTTP status (``None`` when the server could not be reached).
        code: the API's error code, e.g. ``"NOT_FOUND"`` or ``"INVALID"``; ``"UNREACHABLE"``
            when no answer came, ``"HTTP_<status>"`` when the body held no code.
        message: the server's message, verbatim.
        field: the input at fault (``"metadata"``, ``"gitCommit"``, ``"file"``, an inference
            input's name…), or ``None``.
        request_id: the server's request id, to quote when asking an operator.
        issues: every validation issue, when the server listed them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        field: Optional[str] = None,
        request_id: Optional[str] = None,
        issues: Optional[List[Mapping[str, Any]]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code or (f"HTTP_{status}" if status is not None else "UNREACHABLE")
        self.field = field
        self.request_id = request_id
        self.issues = issues or []

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}{where}: {self.message}"

    def __repr__(self) -> str:
        return f"StewardError(status={self.status!r}, code={self.code!r}, field={self.field!r}, message={self.message!r})"

    @classmethod
    def from_response(cls, status: int, body: bytes, request_id: Optional[str] = None, reason: str = "") -> "StewardError":
        """Builds the error from an HTTP answer.

        Reads the REST API's ``{"error": {"code", "message", "field", "issues"}, "requestId"}``,
        Steward's predict ``{"error": {"message", "input"}}`` and the Open Inference Protocol's
        ``{"error": "<message>"}``; anything else keeps the start of the body as the message.
        """
        try:
            data: Any = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            data = None
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, str):
            return cls(err, status=status, request_id=request_id)
        if isinstance(err, dict):
            field = err.get("field") or err.get("input")
            rid = (data.get("requestId") if isinstance(data, dict) else None) or err.get("requestId") or request_id
            return cls(
                str(err.get("message") or reason or f"HTTP {status}"),
                status=status,
                code=err.get("code"),
                field=str(field) if field else None,
                request_id=rid,
                issues=err.get("issues") if isinstance(err.get("issues"), list) else None,
            )
        text = body[:300].decode("utf-8", "replace").strip() if body else ""
        return cls(text or reason or f"HTTP {status}", status=status, request_id=request_id)


class ChecksumError(StewardError):
    """A download did not match the sha256 the server announced; the partial file was deleted."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message, code="CHECKSUM_MISMATCH")
        self.expected = expected
        self.actual = actual


class WaitTimeout(StewardError):
    """Waiting for a validation run or a rollout took longer than the timeout given."""

    def __init__(self, message: str, *, last: Any = None) -> None:
        super().__init__(message, code="TIMEOUT")
        #: The last state seen (a run or a rollout), or ``None`` when nothing had appeared.
        self.last = last
