"""The REST API (API Gateway -> ApiFunction) as Powertools routers, one module per resource:
``images`` (uploads, status, trace) and ``edits``. Request and response models are in
``image_pipeline.api_models``, what the routes do in ``image_pipeline.image_api``.

One way to validate: Powertools validates each route's path, query and body against its models
(``enable_validation``); one formatter answers every refusal (``errors``). The OpenAPI document
is generated from the same routes (``openapi.document``; ``make openapi``).
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types

from image_pipeline.aws.rest import edits, errors, images, openapi
from image_pipeline.problems import FieldProblem, InvalidInput, json_object

__all__ = ["images_api", "json_request", "openapi"]


def images_api(allowed_origin: str) -> APIGatewayRestResolver:
    """The API's resolver: its routes, CORS for the one browser origin, and its error shape."""
    # (API Gateway answers the preflights itself, with the same headers: template.yaml's Cors.)
    # Location is exposed so a page can follow it as it follows statusUrl.
    cors = CORSConfig(
        allow_origin=allowed_origin,
        allow_headers=["Content-Type", "X-Api-Key"],
        expose_headers=["Location"],
        max_age=600,
    )
    # Bodies are JSON objects: Powertools would read an array body as its first item.
    app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=json_object)
    app.include_router(images.router)
    app.include_router(edits.router)
    errors.install(app)
    app.use(middlewares=[_only_known_query(app)])
    return app


def _only_known_query(app: APIGatewayRestResolver) -> Callable[..., Response[Any]]:
    """Refuse query parameters a route does not take (``?limt=5`` is a typo, not a default),
    as the OpenAPI document declares them."""

    @cache
    def known() -> dict[tuple[str, str], frozenset[str]]:
        return openapi.query_parameters(openapi.document(app))

    def only_known_query(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
        asked = app.current_event.query_string_parameters or {}
        route = (app.request.method, app.request.route)
        if asked and route in known():  # no route at all is a 404, whatever it was asked
            unknown = sorted(set(asked) - known()[route])
            if unknown:
                raise InvalidInput([FieldProblem(name, "not a query parameter of this route") for name in unknown])
        return next_middleware(app)

    return only_known_query


def json_request(event: dict[str, Any]) -> dict[str, Any]:
    """Read any request body as JSON, whatever Content-Type the client sent (``curl -d`` says
    ``application/x-www-form-urlencoded``): this API takes nothing else."""
    if not event.get("body"):
        return event
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "headers": {**headers, "Content-Type": content_types.APPLICATION_JSON},
        "multiValueHeaders": {**multi, "Content-Type": [content_types.APPLICATION_JSON]},
    }
