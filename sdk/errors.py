"""One exception family for everything the platform refuses or cannot do, with bilingual text.

``ShuyuError`` is the base; the gateway's HTTP status and stable ``code`` pick the subclass, so
``except NotApproved`` reads as what happened. ``str(e)`` is ``中文 / English``.
"""

from __future__ import annotations


class ShuyuError(Exception):
    """Base of every SDK error."""

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        code: str = "",
        status: int | None = None,
    ):
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
        self.code = code
        self.status = status

    def _render_traceback_(self) -> list[str]:
        """What a notebook shows: the platform's bilingual answer, not the SDK's call stack."""
        return [f"{type(self).__name__}: {self}"]


class InvalidRequest(ShuyuError):
    """The request was malformed or ambiguous (HTTP 400), e.g. several scenarios fit."""


class Conflict(InvalidRequest):
    """The request is not in a state that allows this (HTTP 409), e.g. downloading an export
    before its approval."""


class AccessDenied(ShuyuError):
    """The platform refuses the caller (HTTP 401/403): admission failed, suspended company,
    another company's scenario, …"""


class NotApproved(AccessDenied):
    """The scenario holds no (or no longer an) approval for this dataset or column."""


class NotFound(ShuyuError):
    """No such dataset or scenario (HTTP 404)."""


class RateLimited(ShuyuError):
    """A limit is used up (HTTP 429), e.g. a product key's calls a minute or records a day."""


class PlatformUnavailable(ShuyuError):
    """The gateway could not be reached or failed (network error, timeout, HTTP 5xx)."""


def from_response(status: int, body: dict | None) -> ShuyuError:
    """The exception for a refused call, from its status and JSON body."""
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code") or "")
    zh = str(body.get("message_zh") or "")
    en = str(body.get("message_en") or "")
    if not (zh and en):
        error = str(body.get("error") or "")
        zh, _, en = error.partition(" / ")
        zh, en = zh or f"平台返回错误 {status}", en or f"the platform answered {status}"
    if code == "not_approved":
        cls = NotApproved
    elif status in (401, 403):
        cls = AccessDenied
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status in (400, 413):
        cls = InvalidRequest
    elif status == 429:
        cls = RateLimited
    else:
        cls = PlatformUnavailable
    return cls(zh, en, code=code, status=status)
