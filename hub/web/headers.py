"""Response headers every Shuyu page carries: no other site may frame a console.

A framed console lets another page overlay its own controls on the reviewer's approve button
(clickjacking). ``X-Frame-Options: DENY`` for older browsers, CSP ``frame-ancestors 'none'`` for
current ones; the same pair goes on the hub's own pages through ``tornado_settings``.
"""

from __future__ import annotations

from tornado import web

NO_FRAMING: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class NoFramingMixin:
    """Sets :data:`NO_FRAMING` on every response, error pages included (tornado calls
    ``set_default_headers`` again when it clears a response for an error).

    A plain mixin, listed first: were it a ``RequestHandler``, tornado's own ``get_login_url``
    and ``xsrf_token`` would come before ``HubOAuthenticated``'s in the method order, and the
    OAuth login would lose its state.
    """

    def set_default_headers(self: web.RequestHandler) -> None:
        super().set_default_headers()
        for name, value in NO_FRAMING.items():
            self.set_header(name, value)
