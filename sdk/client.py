"""The gateway's HTTP API, one method per endpoint, in the manner of docker-py's ``APIClient``:
the resources and collections (:mod:`sdk.resources`) call these, never a path of their own.

Every answer that is an error becomes an exception of :mod:`sdk.errors`; the gateway is reached
directly on the tenant's link, never through a proxy.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from sdk.errors import PlatformUnavailable, ShuyuError, from_response

DEFAULT_TIMEOUT = 60.0
PARQUET = "application/vnd.apache.parquet"


class APIClient:
    """Calls ``{base_url}/services/gateway/api/v1/...`` with the caller's API token."""

    def __init__(self, base_url: str, token: str, timeout: float = DEFAULT_TIMEOUT):
        self.base = base_url.rstrip("/") + "/services/gateway/api/v1"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.session.trust_env = False  # the gateway is on the tenant's link, never via a proxy

    # --- catalog ---------------------------------------------------------------------------------
    def me(self) -> dict:
        return self.get_json("/me")

    def scenarios(self) -> list[dict]:
        return self.get_json("/scenarios")["scenarios"]

    def datasets(self, scenario: str | None = None) -> list[dict]:
        return self.get_json("/datasets", scenario=scenario)["datasets"]

    def dataset(self, name: str, scenario: str | None = None) -> dict:
        return self.get_json(f"/datasets/{name}", scenario=scenario)

    def sample(self, name: str, scenario: str | None = None, format: str = "arrow") -> bytes:
        body, _ = self.get_bytes(f"/datasets/{name}/sample", scenario=scenario, format=format)
        return body

    def data_list(self) -> list[dict]:
        return self.get_json("/datalist")["items"]

    # --- requests under review --------------------------------------------------------------------
    def requests(self) -> list[dict]:
        return self.get_json("/requests")["requests"]

    def request(self, request_id: int) -> dict:
        return self.get_json(f"/requests/{request_id}")

    def withdraw(self, request_id: int) -> dict:
        return self.post_json(f"/requests/{request_id}/withdraw")

    def download(self, request_id: int) -> tuple[bytes, dict[str, str]]:
        return self.get_bytes(f"/requests/{request_id}/download")

    def lineage(self, request_id: int) -> dict:
        return self.get_json(f"/requests/{request_id}/lineage")

    def create_export(self, parquet: bytes, meta: dict, **params: Any) -> dict:
        headers = {"Content-Type": PARQUET, "X-Shuyu-Meta": json.dumps(meta)}
        return self.post_json("/exports", data=parquet, headers=headers, **params)

    # --- production --------------------------------------------------------------------------------
    def submit_job(self, bundle: bytes, meta: dict, **params: Any) -> dict:
        headers = {
            "Content-Type": "application/x-tar",
            "X-Shuyu-Meta": json.dumps(meta, ensure_ascii=False),
        }
        return self.post_json("/jobs", data=bundle, headers=headers, **params)

    def job(self, job_id: int) -> dict:
        return self.get_json(f"/jobs/{job_id}")

    def job_log(self, job_id: int) -> str:
        body, _ = self.get_bytes(f"/jobs/{job_id}/log")
        return body.decode("utf-8")

    def export_job_output(self, job_id: int, **params: Any) -> dict:
        return self.post_json(f"/jobs/{job_id}/exports", **params)

    def publish_model(self, spec: dict, **params: Any) -> dict:
        return self.post_json("/models", **self._json_body(spec), **params)

    def create_import(self, content: bytes, **params: Any) -> dict:
        headers = {"Content-Type": "application/octet-stream"}
        return self.post_json("/imports", data=content, headers=headers, **params)

    # --- privacy computing --------------------------------------------------------------------------
    def parties(self) -> list[dict]:
        return self.get_json("/privacy/parties")["parties"]

    def create_computation(self, spec: dict, **params: Any) -> dict:
        return self.post_json("/privacy/computations", **self._json_body(spec), **params)

    def computation(self, request_id: int) -> dict:
        return self.get_json(f"/privacy/computations/{request_id}")

    # --- products ----------------------------------------------------------------------------------
    def products(self) -> list[dict]:
        return self.get_json("/products")["products"]

    def issue_key(self, product: str, consumer: str, **terms: Any) -> dict:
        body = {"consumer": consumer, **{k: v for k, v in terms.items() if v is not None}}
        return self.post_json(f"/products/{product}/keys", **self._json_body(body))

    def product_keys(self, product: str) -> list[dict]:
        return self.get_json(f"/products/{product}/keys")["keys"]

    def rotate_key(self, product: str, prefix: str, grace_seconds: int = 0) -> dict:
        body = self._json_body({"grace_seconds": grace_seconds})
        return self.post_json(f"/products/{product}/keys/{prefix}/rotate", **body)

    def revoke_key(self, product: str, prefix: str) -> dict:
        return self._json(self._call("DELETE", f"/products/{product}/keys/{prefix}"))

    def consumers(self, month: str) -> dict:
        return self.get_json("/products/consumers", month=month)

    def register_product(self, product: str, record: dict, **params: Any) -> dict:
        return self.post_json(
            f"/products/{product}/registrations", **self._json_body(record), **params
        )

    def registrations(self, product: str) -> dict:
        return self.get_json(f"/products/{product}/registrations")

    def query_product(self, product: str, mode: str, key: str, body: dict, **params: Any) -> dict:
        request = self._json_body(body)
        request["headers"]["X-Shuyu-Product-Key"] = key
        return self.post_json(f"/products/{product}/{mode}", **request, **params)

    # --- fees --------------------------------------------------------------------------------------
    def quote(self, kind: str, scenario: str | None = None, **resources: Any) -> dict:
        return self.get_json("/quote", kind=kind, scenario=scenario, **resources)

    def statement(self, month: str, format: str = "csv") -> str:
        body, _ = self.get_bytes(f"/statements/{month}", format=format)
        return body.decode("utf-8")

    # --- transport ---------------------------------------------------------------------------------
    def get_json(self, path: str, **params: Any) -> Any:
        return self._json(self._call("GET", path, params))

    def get_bytes(self, path: str, **params: Any) -> tuple[bytes, dict[str, str]]:
        response = self._call("GET", path, params)
        return response.content, dict(response.headers)

    def post_json(
        self, path: str, data: bytes | None = None, headers: dict | None = None, **params: Any
    ) -> Any:
        return self._json(self._call("POST", path, params, data, headers))

    @staticmethod
    def _json_body(value: dict) -> dict:
        data = json.dumps(value, ensure_ascii=False, default=str).encode()
        return {"data": data, "headers": {"Content-Type": "application/json"}}

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ShuyuError(
                "数据网关返回了无法解析的内容", "the gateway answered with something unreadable"
            ) from None

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
