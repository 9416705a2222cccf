"""A real OpenID Connect provider for the tests: oidc-provider-mock on a loopback port, in a
thread of the test process (nothing left running after it).

oidc-provider-mock 0.3 signs RS256 ID tokens, serves discovery and JWKS, and lets a test define a
user's claims (``PUT /users/<sub>``) and authorize as that user by posting the ``sub`` on its
authorize page. It accepts PKCE parameters without checking them, so :class:`PKCEGuard` in front
of it does what a provider enforcing PKCE does: an authorization code issued for a
``code_challenge`` (S256) is exchanged only with the matching ``code_verifier``, and a code issued
without a challenge not at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import requests
import werkzeug.serving
from oidc_provider_mock import app as provider_app


class PKCEGuard:
    """WSGI middleware: remembers each issued code's challenge, checks the verifier at /token."""

    def __init__(self, app):
        self.app = app
        self.challenges: dict[str, str | None] = {}
        self.verified = 0  # code exchanges whose verifier matched
        self.refused = 0

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("grant_type") == "authorization_code" and not self._verifier_ok(form):
                self.refused += 1
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant", "error_description": "PKCE verifier"}']
            return self.app(environ, start_response)
        if path == "/oauth2/authorize" and environ.get("REQUEST_METHOD") == "POST":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            challenge = (
                query.get("code_challenge")
                if query.get("code_challenge_method") == "S256"
                else None
            )

            def remember(status, headers, *args):
                for name, value in headers:
                    if name.lower() == "location":
                        for code in parse_qs(urlparse(value).query).get("code", []):
                            self.challenges[code] = challenge
                return start_response(status, headers, *args)

            return self.app(environ, remember)
        return self.app(environ, start_response)

    def _verifier_ok(self, form: dict[str, str]) -> bool:
        challenge = self.challenges.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if not challenge or not verifier:
            return False
        digest = hashlib.sha256(verifier.encode()).digest()
        ok = base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
        self.verified += ok
        return ok


class Provider:
    def __init__(self, server: werkzeug.serving.BaseWSGIServer, guard: PKCEGuard):
        self.server = server
        self.guard = guard
        self.issuer = f"http://127.0.0.1:{server.server_port}"

    def user(self, sub: str, **claims) -> None:
        """Define (or redefine) the provider account ``sub`` and the claims its tokens carry."""
        answer = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        answer.raise_for_status()


@contextlib.contextmanager
def running_provider() -> Iterator[Provider]:
    # Plain HTTP on loopback: authlib refuses it unless told (the hub's side is loopback too).
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    guard = PKCEGuard(provider_app())
    server = werkzeug.serving.make_server("127.0.0.1", 0, guard, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    try:
        yield Provider(server, guard)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
