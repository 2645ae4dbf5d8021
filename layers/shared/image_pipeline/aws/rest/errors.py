"""Every error the API answers has one shape, ``{"message", "code", "errors": [{"field", "reason"}]}``,
the shape API Gateway's own errors get from the template's gateway responses too.

Validation problems reach it one way: ``image_pipeline.problems.field_problems``, whether
Powertools found them (a route's parameters and body) or the domain did (``InvalidInput``)."""

import logging
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from image_pipeline.api_models import ErrorBody, Problem
from image_pipeline.problems import FieldProblem, InvalidInput, field_problems

log = logging.getLogger(__name__)


class NotFound(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, message)


class Conflict(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(HTTPStatus.CONFLICT, message)


def error(status: HTTPStatus, message: str, code: str, problems: list[FieldProblem] | None = None) -> Response[Any]:
    body = ErrorBody(
        message=message, code=code, errors=[Problem(field=p.field, reason=p.reason) for p in problems or []]
    )
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump())


def invalid(problems: list[FieldProblem]) -> Response[Any]:
    return error(HTTPStatus.BAD_REQUEST, str(InvalidInput(problems)), "INVALID_REQUEST", problems)


def install(app: APIGatewayRestResolver) -> None:
    """Answer every error of ``app`` in the one shape."""

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        return invalid(field_problems(exc.errors()))

    @app.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
    def _invalid_input(exc: InvalidInput) -> Response[Any]:
        return invalid(list(exc.problems))

    @app.exception_handler(ServiceError)  # type: ignore[untyped-decorator]
    def _service_error(exc: ServiceError) -> Response[Any]:
        status = HTTPStatus(exc.status_code)
        return error(status, str(exc.msg), "INVALID_REQUEST" if status is HTTPStatus.BAD_REQUEST else status.name)

    @app.not_found
    def _no_route(_: Exception) -> Response[Any]:
        event = app.current_event
        return error(HTTPStatus.NOT_FOUND, f"no route {event.http_method} {event.path}", "NOT_FOUND")

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _internal_error(exc: Exception) -> Response[Any]:
        log.error("unhandled error", exc_info=exc)
        return error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the function's logs", "INTERNAL_ERROR")
