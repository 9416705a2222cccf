"""The OpenAPI description of the gateway's data API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


REFUSALS = {
    "400": _json(_ref("Refusal"), "Bad request (e.g. several scenarios fit: name one)"),
    "401": _json(_ref("Refusal"), "No API token"),
    "403": _json(_ref("Refusal"), "Refused: admission, another tenant's scenario, not approved"),
    "404": _json(_ref("Refusal"), "No such dataset or scenario"),
}
SCENARIO_QUERY = {
    "name": "scenario",
    "in": "query",
    "required": False,
    "description": "A scenario id or name of the caller's tenant; by default the only one "
    "that fits.",
    "schema": {"type": "string"},
}
NAME_PATH = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"},
}


def _get(summary: str, ok: dict, parameters: list | None = None) -> dict:
    return {
        "get": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": parameters or [],
            "responses": {"200": ok, **REFUSALS},
        }
    }


def _post(summary: str, body: dict, ok: dict, parameters: list | None = None) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": parameters or [],
            "requestBody": {"required": True, "content": body},
            "responses": {"201": ok, **REFUSALS, "409": _json(_ref("Refusal"), "Conflict")},
        }
    }


def _query(name: str, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


ID_PATH = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PRODUCT_PATH = {
    "name": "product",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{2,63}$"},
}
PURPOSE = _query("purpose", "What the request is for (4–2000 characters)", required=True)
BINARY = {"schema": {"type": "string", "format": "binary"}}
REQUEST = _json({"$ref": "#/components/schemas/Request"}, "The request, as the lifecycle holds it")


def production_paths() -> dict:
    """Training jobs, publishing, products and imports: each a request under review."""
    job_meta = {
        "name": "X-Shuyu-Meta", "in": "header", "required": True,
        "description": "JSON: entrypoint, datasets, params, resources (cpus, memory_gb, seconds)",
        "schema": {"type": "string"},
    }  # fmt: skip
    query = {"application/json": {"schema": {"type": "object", "properties": {
        "records": {"type": "array", "items": {"type": "object"}},
        "keys": {"type": "array", "items": {"type": "string"}}}}}}  # fmt: skip
    return {
        "/jobs": _post("Submit a training job (a tar bundle of code)", {"application/x-tar": BINARY},
                       REQUEST, [PURPOSE, SCENARIO_QUERY, job_meta]),
        "/jobs/{request_id}": _get("A job, its review and its released run", REQUEST, [ID_PATH]),
        "/jobs/{request_id}/log": _get("The job's log, personal data masked",
                                       {"description": "text", "content": {"text/plain": BINARY}}, [ID_PATH]),
        "/jobs/{request_id}/exports": _post(
            "Request the export of one result table of the job", {"application/json": {"schema": {}}},
            REQUEST, [ID_PATH, PURPOSE, _query("output", "The output file (Parquet)", True)]),
        "/models": _post("Publish a succeeded job's model as a product", {"application/json": {"schema": {
            "type": "object", "required": ["job", "product", "card"], "properties": {
                "job": {"type": "integer"}, "product": {"type": "string"}, "card": {"type": "object"},
                "artifact": {"type": "string"}, "dataset": {"type": "string"}}}}}, REQUEST, [PURPOSE]),
        "/imports": _post("Bring an external CSV or Parquet file into a scenario",
                          {"application/octet-stream": BINARY}, REQUEST,
                          [PURPOSE, SCENARIO_QUERY, _query("name", "A name"), _query("format", "csv or parquet")]),
        "/requests/{request_id}/lineage": _get("Cell → job → outputs → decisions → released",
                                               _json({"type": "object"}, "Lineage"), [ID_PATH]),
        "/quote": _get("What a request would cost, with the month's spending and the cap",
                       _json({"type": "object"}, "Quote"),
                       [_query("kind", "job, export, model or import", True), SCENARIO_QUERY,
                        _query("cpus", "A job's CPUs"), _query("seconds", "A job's wall time")]),
        "/statements/{month}": _get(
            "The caller's company's monthly statement",
            {"description": "CSV or HTML", "content": {"text/csv": BINARY, "text/html": BINARY}},
            [{"name": "month", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}},
             _query("format", "csv or html")]),
        "/products": _get("The caller's company's products", _json({"type": "object"}, "Products")),
        "/products/{product}/keys": _post("Issue a consumer key (shown once)",
                                          {"application/json": {"schema": {"type": "object"}}},
                                          _json({"type": "object"}, "The key"), [PRODUCT_PATH]),
        "/products/{product}/score": _post("Scores for records or keys (X-Shuyu-Product-Key)", query,
                                           _json({"type": "object"}, "Answers"), [PRODUCT_PATH, SCENARIO_QUERY]),
        "/products/{product}/verify": _post("Yes/no answers (核验) for records or keys", query,
                                            _json({"type": "object"}, "Answers"), [PRODUCT_PATH, SCENARIO_QUERY]),
    }  # fmt: skip


SCHEMAS: dict[str, Any] = {
    "Request": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["export", "job", "model", "import"]},
            "status": {"type": "string"},
            "checks": {"type": "array", "items": {"type": "object"}},
            "sha256": {"type": ["string", "null"]},
        },
    },
    "Refusal": {
        "type": "object",
        "required": ["error", "code", "status"],
        "properties": {
            "error": {"type": "string", "description": "中文 / English"},
            "code": {
                "type": "string",
                "description": "Stable reason: not_approved, other_tenant, not_found, "
                "tenant_suspended, agreement_expired, training, …",
            },
            "status": {"type": "integer"},
            "message_zh": {"type": "string"},
            "message_en": {"type": "string"},
        },
    },
    "Scenario": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "field": {"type": "string"},
            "purpose": {"type": "string"},
            "category": {"enum": ["public-governance", "industry"]},
            "status": {"enum": ["filed", "approved", "rejected", "revoked"]},
        },
    },
    "Column": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "type": {"enum": ["string", "int", "float", "date", "datetime"]},
            "approved": {"type": "boolean"},
            "prohibited": {"type": "boolean"},
            "quasi_identifier": {"type": "boolean"},
            "masking": {
                "type": ["object", "null"],
                "properties": {"operator": {"type": "string"}, "params": {"type": "object"}},
            },
        },
    },
    "Dataset": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "department": {"type": "string"},
            "level": {"type": "integer", "minimum": 1, "maximum": 4},
            "prohibited": {"type": "boolean"},
            "approvals": {"type": "array", "items": {"type": "object"}},
            "columns": {"type": "array", "items": _ref("Column")},
        },
    },
    "DataListItem": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "scenario": {"type": "string"},
            "scenario_id": {"type": "integer"},
            "dataset": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "decision": {"enum": ["pending", "approved", "rejected", "revoked"]},
            "decided_by": {"type": ["string", "null"]},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "reason": {"type": ["string", "null"]},
        },
    },
}


def document(base: str) -> dict:
    """The OpenAPI 3.1 document, with ``base`` (the gateway's URL prefix) as its server."""
    array = {"type": "array"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Shuyu data gateway / 数域数据网关",
            "version": "1",
            "description": "Desensitized, sampled data for the scenarios a tenant was approved "
            "for. Raw data never leaves the domain. Every call is audited.",
        },
        "servers": [{"url": f"{base}/api/v1"}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The caller's JupyterHub API token ($JUPYTERHUB_API_TOKEN)",
                }
            },
            "schemas": SCHEMAS,
        },
        "paths": {
            "/me": _get("Who is calling, and their scenarios", _json({"type": "object"}, "Me")),
            "/scenarios": _get(
                "The caller's tenant's scenarios",
                _json({"properties": {"scenarios": {**array, "items": _ref("Scenario")}}}, "OK"),
            ),
            "/datasets": _get(
                "The catalog, with each column's masking and approval",
                _json({"properties": {"datasets": {**array, "items": _ref("Dataset")}}}, "OK"),
                [SCENARIO_QUERY],
            ),
            "/datasets/{name}": _get(
                "One dataset", _json(_ref("Dataset"), "OK"), [NAME_PATH, SCENARIO_QUERY]
            ),
            "/datasets/{name}/sample": _get(
                "The desensitized sample of the approved columns (fixed rows, capped)",
                {
                    "description": "The sample; masking per column in the schema metadata 'shuyu'",
                    "headers": {
                        "X-Shuyu-Rows": {"schema": {"type": "integer"}},
                        "X-Shuyu-Scenario-Id": {"schema": {"type": "integer"}},
                        "X-Shuyu-Sha256": {"schema": {"type": "string"}},
                    },
                    "content": {
                        ARROW: {"schema": {"type": "string", "format": "binary"}},
                        PARQUET: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                [
                    NAME_PATH,
                    SCENARIO_QUERY,
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"enum": ["arrow", "parquet"], "default": "arrow"},
                    },
                ],
            ),
            "/datalist": _get(
                "The data-list items of the caller's tenant and their decisions",
                _json({"properties": {"items": {**array, "items": _ref("DataListItem")}}}, "OK"),
            ),
            **production_paths(),
        },
    }
