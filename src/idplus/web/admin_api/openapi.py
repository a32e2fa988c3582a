"""The admin API's OpenAPI 3.1 document, generated from the operations and their pydantic
models (never written by hand): what a client generator or a reviewer reads."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from idplus.web.admin_api.operations import PREFIX, Operation

REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")
ERROR_SCHEMA = "Error"


def openapi_document(issuer: str, operations: Iterable[Operation]) -> dict[str, Any]:
    schemas: dict[str, Any] = {ERROR_SCHEMA: _error_schema()}
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        entry = _operation_entry(operation, schemas)
        paths.setdefault(PREFIX + operation.path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "idplus admin API",
            "version": "1",
            "description": "Operators' REST API over the same use-cases as the `idplus` CLI. "
            "Send an access token with the idplus:admin scope (client_credentials).",
        },
        "servers": [{"url": issuer}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation_entry(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAMETER.findall(operation.path)
        ]
        + _query_parameters(operation.query, schemas),
        "responses": _responses(operation, schemas),
    }
    if operation.body is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _reference(operation.body, schemas)}},
        }
    return entry


def _query_parameters(
    model: type[BaseModel] | None, schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = _schema_of(model, schemas)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        for name, field_schema in schema.get("properties", {}).items()
    ]


def _responses(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": operation.summary}
    if operation.response is not None:
        schema = _reference(operation.response, schemas)
        success["content"] = {"application/json": {"schema": schema}}
    error = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=ERROR_SCHEMA)}}}
    responses: dict[str, Any] = {str(operation.status): success}
    described = {
        400: "invalid input",
        401: "no token, or an invalid one",
        403: "a token without the idplus:admin scope",
        **operation.errors,
    }
    for status, meaning in sorted(described.items()):
        responses[str(status)] = {"description": meaning, "content": error}
    return responses


def _reference(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    _schema_of(model, schemas)
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _schema_of(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    for name, nested in schema.pop("$defs", {}).items():
        schemas.setdefault(name, nested)
    schemas.setdefault(model.__name__, schema)
    return schema


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
        },
        "required": ["error"],
    }
