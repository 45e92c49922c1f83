"""The ingress's HTTP interface as an OpenAPI 3.1 description, served at ``GET /openapi.json``.

Generated here rather than written by hand: the refusals of ``POST /webhooks/{source}`` come from
:mod:`ingress.errors` (every class's status and reason), so a new refusal is described as soon as
it exists. The shipped copy, ``ingress/openapi.json``, is this description as text
(``hookgate openapi --write``); tests fail when the two differ, when the app serves a route the
description lacks, and when the live ingress answers anything the description does not allow
(``tests/ingress/test_openapi.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from ingress import errors

#: The shipped copy of :func:`description`.
PATH: Final = Path(__file__).with_name("openapi.json")

_JSON = "application/json"
#: The answer of uvicorn itself (not the app) to a connection past ``ingress.max_connections``.
_PLAIN = "text/plain"

#: Refusals answered before the app sees the request (ingress/http_protocol.py, uvicorn).
_HEAD_REASONS: Final = ("header_too_large",)
_STARLETTE_REASONS: Final = {404: "not_found", 405: "method_not_allowed"}


def reasons_by_status() -> dict[int, list[str]]:
    """Every refusal of ``POST /webhooks/{source}``: status -> its reasons, from
    :mod:`ingress.errors`."""
    found: dict[int, set[str]] = {}
    pending: list[type[errors.IngressError]] = [errors.IngressError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__subclasses__():  # bases (IngressError, VerificationFailed) are never raised
            found.setdefault(cls.status, set()).add(cls.reason)
    return {status: sorted(reasons) for status, reasons in sorted(found.items())}


def _error(reasons: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error", "detail"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "enum": reasons},
            "detail": {"type": "string", "description": "For people: never a secret."},
        },
    }


def _json(description: str, schema: dict[str, Any], **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": schema}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}, "required": True}
            for name, text in headers.items()
        }
    return response


_STATUS_TEXT: Final = {
    400: "A required header or the query string is missing or malformed.",
    401: "Not proven to come from the configured sender.",
    404: "No such source.",
    408: "The body did not arrive in full within ingress.body_timeout_ms; connection closed.",
    413: "The body is larger than the source's max_body_bytes.",
    503: "Retry later: the broker did not acknowledge, or the ingress sheds load.",
}

#: uvicorn's own answer past ``ingress.max_connections``: plain text, from any path.
_CONNECTION_LIMIT = {_PLAIN: {"schema": {"type": "string"}}}


def _common(operation: dict[str, Any]) -> dict[str, Any]:
    """Answers any request can get, whatever its path: head limits and the connection limit."""
    responses = operation["responses"]
    responses["431"] = _json(
        "The request line and headers pass ingress.max_header_bytes, or there are more than "
        "ingress.max_headers fields; answered before the app, connection closed.",
        _error(list(_HEAD_REASONS)),
    )
    if "503" in responses:
        responses["503"]["content"].update(_CONNECTION_LIMIT)
    else:
        responses["503"] = {
            "description": "More than ingress.max_connections connections are open.",
            "content": dict(_CONNECTION_LIMIT),
        }
    return operation


def _delivery(with_token: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "Verified and acknowledged by every in-sync replica of the raw "
            "topic; or a verified handshake (Slack's url_verification) answered with its reply.",
            "content": {
                _JSON: {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Accepted"},
                            {"$ref": "#/components/schemas/Challenge"},
                        ]
                    }
                }
            },
        }
    }
    for status, reasons in reasons_by_status().items():
        if status == 404:
            reasons = sorted({*reasons, _STARLETTE_REASONS[404]})
        headers: dict[str, str] = {}
        if status == 503:
            headers["Retry-After"] = "Seconds to wait before retrying."
        if status == 408:
            headers["Connection"] = "close"
        responses[str(status)] = _json(_STATUS_TEXT[status], _error(reasons), **headers)
    parameters: list[dict[str, Any]] = [
        {
            "name": "source",
            "in": "path",
            "required": True,
            "description": "A configured source's name.",
            "schema": {"type": "string"},
        }
    ]
    if with_token:
        parameters.append(
            {
                "name": "token",
                "in": "path",
                "required": True,
                "description": "The secret token of a source whose provider takes one in the "
                "path (luma); 404 for any other source.",
                "schema": {"type": "string"},
            }
        )
    return _common(
        {
            "operationId": "deliverWithToken" if with_token else "deliver",
            "summary": "Verify a webhook delivery and write it to the raw topic.",
            "description": "The signature scheme, its headers and the body limit are the "
            "source's provider's (README.md, Providers). The body is stored as received.",
            "parameters": parameters,
            "requestBody": {
                "required": False,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": responses,
        }
    )


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": _common({"operationId": operation_id, "summary": summary, "responses": responses})
    }


def _status(value: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": value}, "detail": {"type": "string"}},
    }


def description() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route the ingress serves."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hookgate ingress",
            "version": "1.0.0",
            "description": "Webhook deliveries in: verified, written to Kafka, then answered. "
            "Every refusal is JSON {error, detail}; a path the ingress does not serve is a 404 "
            "not_found, a method a path does not take a 405 method_not_allowed with Allow.",
        },
        "paths": {
            "/webhooks/{source}": {"post": _delivery(with_token=False)},
            "/webhooks/{source}/{token}": {"post": _delivery(with_token=True)},
            "/healthz": _get(
                "healthz",
                "The process is alive.",
                {"200": _json("Alive.", _status("ok"))},
            ),
            "/readyz": _get(
                "readyz",
                "Kafka answers for the raw topic.",
                {
                    "200": _json("Ready.", _status("ready")),
                    "503": _json("Kafka does not answer for the raw topic.", _status("not ready")),
                },
            ),
            "/metrics": _get(
                "metrics",
                "Prometheus metrics (README.md, The ingress).",
                {
                    "200": {
                        "description": "The Prometheus text format.",
                        "content": {_PLAIN: {"schema": {"type": "string"}}},
                    }
                },
            ),
            "/openapi.json": _get(
                "openapi",
                "This description.",
                {"200": _json("OpenAPI 3.1.", {"type": "object"})},
            ),
        },
        "components": {
            "schemas": {
                "Accepted": {
                    "type": "object",
                    "required": ["status", "event_id"],
                    "additionalProperties": False,
                    "properties": {
                        "status": {"const": "accepted"},
                        "event_id": {
                            "type": "string",
                            "description": "The de-duplication key: the sender's event id.",
                        },
                    },
                },
                "Challenge": {
                    "type": "object",
                    "required": ["challenge"],
                    "additionalProperties": False,
                    "properties": {"challenge": {"type": "string"}},
                },
            }
        },
    }


def text() -> str:
    """:func:`description` as the shipped file's text."""
    return json.dumps(description(), indent=2) + "\n"
