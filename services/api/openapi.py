"""The OpenAPI 3.1 document of the API, generated from the operations and their pydantic models, and a plain HTML
page that lists it (works offline: no script from a CDN).

Nothing here is written by hand per endpoint: paths, parameters, bodies, responses and error codes all come
from services.api.framework.Operation declarations, which are also what the server runs.
"""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from services import __version__
from services.api.framework import Operation
from services.api.schemas import ErrorResponse, NoQuery

_ERROR_TEXT = {
    400: "Invalid request",
    401: "Missing or invalid API token",
    404: "Not found",
    409: "Conflict",
    412: "The entry changed since it was read",
    429: "Rate limit exceeded",
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never JSON null: `anyOf [X, null]` becomes X."""
    options = [option for option in schema.get("anyOf", ()) if option != {"type": "null"}]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
        if schema.get("default", 0) is None:
            del schema["default"]
    return schema


def _error(status: int, codes: tuple[str, ...]) -> dict[str, Any]:
    text = _ERROR_TEXT.get(status, "Error")
    description = f"{text}: {', '.join(codes)}" if codes else text
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
    if status == 429:
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
        }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def build_document(operations: list[Operation], *, public_catalogue: bool) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for op in operations:
        models.append((op.response, "serialization"))
        models += [(model, "serialization") for model, _ in op.extra_statuses.values()]
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.query is not NoQuery:
            models.append((op.query, "validation"))
    models = list(dict.fromkeys(models))
    key_map, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = _strip_titles(defs.get("$defs", {}))

    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(key_map[(model, mode)])

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in op.path_params
        ]
        if op.query is not NoQuery:
            query_schema = schemas[ref(op.query, "validation")["$ref"].rsplit("/", 1)[1]]
            required = set(query_schema.get("required", ()))
            for name, prop in query_schema["properties"].items():
                prop = _not_null(dict(prop))
                description = prop.pop("description", None)
                parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
                if description:
                    parameter["description"] = description
                parameters.append(parameter)
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": ref(op.response, "serialization")}},
            }
        }
        for status, (model, text) in op.extra_statuses.items():
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": ref(model, "serialization")}},
            }
        errors = {400: (), 401: ("UNAUTHENTICATED",), 429: ("RATE_LIMITED",)} | dict(op.errors)
        if 400 not in op.errors:
            errors[400] = (op.invalid_code,)
        elif op.invalid_code not in errors[400]:
            errors[400] = (*errors[400], op.invalid_code)
        if op.path_params and 404 not in errors:
            errors[404] = ("NOT_FOUND",)
        for status in sorted(errors):
            responses[str(status)] = _error(status, errors[status])
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
            "security": [{}, {"bearer": []}] if op.public(public_catalogue) else [{"bearer": []}],
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body, "validation")}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    query_names = {
        ref(op.query, "validation")["$ref"].rsplit("/", 1)[1] for op in operations if op.query is not NoQuery
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vitrine REST API",
            "version": __version__,
            "description": "Your card collection and the card catalogue. Errors are "
            '{"error": {"code", "message", "details"}}. Send "Authorization: Bearer <token>".',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {name: schema for name, schema in schemas.items() if name not in query_names},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API token"}},
        },
    }


def docs_page(document: dict[str, Any]) -> str:
    """A readable list of the operations with their parameters and error codes."""
    rows = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            params = ", ".join(
                f"<code>{html.escape(p['name'])}</code>{'*' if p.get('required') else ''}" for p in op["parameters"]
            )
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body_name = body.get("$ref", "").rsplit("/", 1)[-1]
            statuses = "<br>".join(
                f"{html.escape(status)} {html.escape(resp['description'])}" for status, resp in op["responses"].items()
            )
            rows.append(
                f"<tr><td><b>{method.upper()}</b></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{params}{'<br>body: ' + body_name if body_name else ''}</td>"
                f"<td>{statuses}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Vitrine REST API</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;vertical-align:top;font-size:14px}</style></head><body>"
        f"<h1>Vitrine REST API {html.escape(document['info']['version'])}</h1>"
        f"<p>{html.escape(document['info']['description'])} Machine-readable: "
        "<a href='/api/openapi.json'>/api/openapi.json</a> (OpenAPI 3.1). * = required.</p>"
        "<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th><th>responses</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
