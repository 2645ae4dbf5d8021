"""API Gateway's half of a request, from template.yaml: which route a URL reaches, and the proxy
event the function then gets. Tests follow a link the API gave out the way a client's request
would travel: the template's routes first (a URL no route matches is API Gateway's 403), then
the function's resolver."""

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests import template
from tests.conftest import load_event

API_FUNCTION = "ApiFunction"


def api_routes(function: str = API_FUNCTION) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the template gives the function (its ``Api`` events)."""
    events = template.function_properties(function).get("Events", {})
    return {
        (str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"]))
        for e in events.values()
        if e["Type"] == "Api"
    }


def _pattern(route: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route)) + "$")


def route_of(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The template route a request reaches, and its path parameters; None where API Gateway
    answers 403 Missing Authentication Token itself."""
    for route_method, route in sorted(api_routes()):
        match = _pattern(route).match(path)
        if route_method == method.upper() and match:
            return route, match.groupdict()
    return None


def proxy_event(
    method: str, url: str, stage: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The event the function gets for ``method url`` on ``stage``'s invoke URL (``.../<stage>/...``)."""
    split = urlsplit(url)
    if not split.path.startswith(f"/{stage}/"):
        raise AssertionError(f"{url} is not under the stage {stage!r}")
    path = split.path.removeprefix(f"/{stage}")
    routed = route_of(method, path)
    if routed is None:
        raise AssertionError(f"API Gateway: 403 Missing Authentication Token for {method} {path}")
    resource, parameters = routed
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    event = load_event("api-get-image.json")
    event.update(
        httpMethod=method.upper(),
        path=path,
        resource=resource,
        pathParameters=parameters or None,
        queryStringParameters=query or None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} or None,
        body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
    )
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    event["requestContext"].update(stage=stage, path=split.path, resourcePath=resource, httpMethod=method.upper())
    return event
