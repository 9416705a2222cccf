"""Why the gateway refuses a call: a stable code, an HTTP status and a bilingual message."""

from __future__ import annotations

from hub.i18n import Msg


class Refusal(Exception):
    """A call the gateway refuses. ``code`` is stable (the SDK maps it to an exception class);
    ``msg`` is safe to show to the caller."""

    status = 403
    code = "access_denied"

    def __init__(self, msg: Msg, code: str | None = None):
        super().__init__(str(msg))
        self.msg = msg
        if code:
            self.code = code

    def body(self) -> dict:
        return {
            "error": str(self.msg),
            "code": self.code,
            "status": self.status,
            "message_zh": self.msg.zh,
            "message_en": self.msg.en,
        }


class AccessDenied(Refusal):
    """The caller may not use this (admission fails, another tenant's scenario, …)."""


class NotApproved(Refusal):
    """The caller's scenario holds no approval for this dataset or column (now)."""

    code = "not_approved"


class NotFound(Refusal):
    status = 404
    code = "not_found"


class BadRequest(Refusal):
    status = 400
    code = "bad_request"


class Conflict(Refusal):
    """The request is not in a state that allows this (e.g. approving a withdrawn request)."""

    status = 409
    code = "conflict"


class RateLimited(Refusal):
    """The caller used up a limit (a product key's calls a minute or records a day)."""

    status = 429
    code = "rate_limited"
