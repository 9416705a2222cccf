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


SCHEMAS: dict[str, Any] = {
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
        },
    }
