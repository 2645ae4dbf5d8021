"""The API's OpenAPI document, as Powertools generates it from the routes and their models.

Two corrections: Powertools declares a ``422`` (its own validation error body) on every
operation, but this API answers validation errors ``400`` in its one error shape (declared by
``answers``); and the API key every route needs is declared once, as API Gateway checks it.
"""

import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel

from image_pipeline.api_models import ErrorBody

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

TITLE: Final = "Image pipeline API"
VERSION: Final = "1"
# API Gateway's own answers (the template's gateway responses), in the same error shape
_ALWAYS: Final = (
    (HTTPStatus.BAD_REQUEST, "Invalid request: one reason per bad field"),
    (HTTPStatus.FORBIDDEN, "Missing or wrong x-api-key (API Gateway)"),
    (HTTPStatus.TOO_MANY_REQUESTS, "Throttled: retry later (API Gateway)"),
)
_POWERTOOLS_ONLY: Final = ("422",)
_POWERTOOLS_SCHEMAS: Final = ("HTTPValidationError", "ResponseValidationError", "ValidationError")  # users first
_REF: Final = "#/components/schemas/"


def answers(*declared: tuple[HTTPStatus, type[BaseModel] | None, str]) -> "dict[int, OpenAPIResponse]":
    """A route's responses for the document: its own (``None``: the error shape), plus the
    errors every route can answer."""
    responses: dict[int, OpenAPIResponse] = {}
    for status, model, description in (*declared, *((s, None, d) for s, d in _ALWAYS)):
        body = model or ErrorBody
        responses.setdefault(
            int(status), {"description": description, "content": {"application/json": {"model": body}}}
        )
    return responses


def document(app: "APIGatewayRestResolver") -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes."""
    # the schema models cost ~50 ms to import: only a cold start that needs the document pays it
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn  # noqa: PLC0415

    generated = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description="Uploads, status, traces and edits of the image pipeline. Every route needs x-api-key.",
        security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
        security=[{"apiKey": []}],
    )
    spec: dict[str, Any] = json.loads(generated)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status in _POWERTOOLS_ONLY:
                operation.get("responses", {}).pop(status, None)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _POWERTOOLS_SCHEMAS:
        if f'"{_REF}{name}"' not in json.dumps(spec):
            schemas.pop(name, None)
    return spec


def query_parameters(spec: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """The query parameters each (method, path) of the document takes."""
    return {
        (method.upper(), path): frozenset(_names(operation.get("parameters", []), "query"))
        for path, operations in spec.get("paths", {}).items()
        for method, operation in operations.items()
    }


def _names(parameters: Iterable[dict[str, Any]], where: str) -> Iterable[str]:
    return (p["name"] for p in parameters if p.get("in") == where)
