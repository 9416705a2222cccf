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
    """No such dataset, scenario, request or product (or not the caller's to see)."""

    status = 404
    code = "not_found"


class BadRequest(Refusal):
    """The call is malformed or ambiguous (e.g. several scenarios fit: name one)."""

    status = 400
    code = "bad_request"


class Conflict(Refusal):
    """The request is not in a state that allows this (e.g. approving a withdrawn request)."""

    status = 409
    code = "conflict"


class Ambiguous(Conflict, BadRequest):
    """Several scenarios fit a call that names none: the call is well formed, the tenant's
    state makes it ambiguous (409); still a bad request to code catching those, as the SDK's
    ``Conflict`` is an ``InvalidRequest``."""

    code = "ambiguous"


class RateLimited(Refusal):
    """The caller used up a limit (a product key's calls a minute or records a day)."""

    status = 429
    code = "rate_limited"


class Unauthorized(Refusal):
    """The call carries no API token."""

    status = 401
    code = "unauthorized"


class MethodNotAllowed(Refusal):
    """The path exists but does not take this method."""

    status = 405
    code = "method_not_allowed"


class TooLarge(Refusal):
    """The body or a header is over its limit."""

    status = 413
    code = "too_large"


class ServerError(Refusal):
    """The gateway failed; details stay in its log, never in the answer."""

    status = 500
    code = "internal"


BY_STATUS: dict[int, tuple[type[Refusal], Msg]] = {
    400: (BadRequest, Msg("请求有误", "bad request")),
    401: (Unauthorized, Msg("需要 API 令牌", "an API token is required")),
    403: (AccessDenied, Msg("拒绝访问", "access denied")),
    404: (NotFound, Msg("没有这个接口", "no such endpoint")),
    405: (MethodNotAllowed, Msg("此接口不接受该方法", "this endpoint does not take this method")),
    409: (Conflict, Msg("状态冲突", "conflict")),
    413: (TooLarge, Msg("请求过大", "the request is too large")),
    429: (RateLimited, Msg("超过限额", "a limit is used up")),
}


def for_status(status: int, msg: Msg | None = None) -> Refusal:
    """The refusal a bare HTTP status stands for (tornado's own 404, 405, …), so every answer
    has the one shape; an unknown status is a server error."""
    cls, default = BY_STATUS.get(
        status, (ServerError, Msg("网关内部错误", "internal gateway error"))
    )
    return cls(msg or default)
