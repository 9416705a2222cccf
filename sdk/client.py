"""The HTTP client of the gateway: one ``requests`` session, errors mapped to :mod:`sdk.errors`."""

from __future__ import annotations

from typing import Any

import requests

from sdk.errors import PlatformUnavailable, ShuyuError, from_response

DEFAULT_TIMEOUT = 60.0


class APIClient:
    """Calls ``{base_url}/services/gateway/api/v1/...`` with the caller's API token."""

    def __init__(self, base_url: str, token: str, timeout: float = DEFAULT_TIMEOUT):
        self.base = base_url.rstrip("/") + "/services/gateway/api/v1"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.session.trust_env = False  # the gateway is on the tenant's link, never via a proxy

    def _get(self, path: str, params: dict | None = None) -> requests.Response:
        return self._call("GET", path, params)

    def _call(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        data: bytes | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = self.session.request(
                method, self.base + path, params=params, data=data, headers=headers,
                timeout=self.timeout,
            )  # fmt: skip
        except requests.RequestException as e:
            raise PlatformUnavailable(
                f"无法连接数据网关（{type(e).__name__}）",
                f"cannot reach the data gateway ({type(e).__name__})",
                code="unreachable",
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise from_response(response.status_code, body)
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        response = self._get(path, params)
        try:
            return response.json()
        except ValueError:
            raise ShuyuError(
                "数据网关返回了无法解析的内容", "the gateway answered with something unreadable"
            ) from None

    def get_bytes(self, path: str, **params: Any) -> tuple[bytes, dict[str, str]]:
        response = self._get(path, params)
        return response.content, dict(response.headers)

    def post_json(
        self, path: str, data: bytes | None = None, headers: dict | None = None, **params: Any
    ) -> Any:
        response = self._call("POST", path, params, data, headers)
        try:
            return response.json()
        except ValueError:
            raise ShuyuError(
                "数据网关返回了无法解析的内容", "the gateway answered with something unreadable"
            ) from None
