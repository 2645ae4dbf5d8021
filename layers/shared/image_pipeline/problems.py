"""Why a request was refused, field by field: the one formatter of validation errors.

Every 400 of the API says ``{"field", "reason"}`` per bad field, whoever found the problem:
Powertools' validation of a route's parameters and body, a model validated in the domain
(``edits.parse_edit_request``), or a domain rule (a cursor this API never issued). Reasons are
sentences for people: pydantic's prefixes ("Value error, ...") and class names ("...instance of
EditRequest") are a library talking, not this API.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# Where a validation error was found (Powertools' first ``loc`` part); the client names the field.
_PLACES: Final = frozenset({"body", "query", "path", "header", "cookie"})
# pydantic's own words for these, as this API says them
_REASONS: Final = {
    "missing": "required",
    "extra_forbidden": "not a field this request takes",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "dataclass_type": "must be a JSON object",
}
# errors whose context holds the sentence that raised them (pydantic prefixes "Value error, ")
_RAISED: Final = frozenset({"value_error", "assertion_error", "json_invalid"})


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class InvalidInput(ValueError):
    """A request this API refuses; ``problems`` names each bad field once."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = tuple(problems)


def field_of(error: Mapping[str, Any]) -> str:
    """The field as a client names it: ``contentType``, ``operations.0.crop.aspect``, ``wait``;
    ``body`` for the body as a whole."""
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in _PLACES:
        location = location[1:]
    if error.get("type") == "json_invalid":
        return "body"  # Powertools puts the character offset after "body"
    return ".".join(location) or "body"


def reason_of(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind in _RAISED and "error" in context:
        return str(context["error"])
    return _REASONS.get(kind, str(error.get("msg", "invalid")))


def field_problems(errors: Iterable[Mapping[str, Any]]) -> list[FieldProblem]:
    """One problem per field (its first reason), in the order the errors came."""
    problems: dict[str, str] = {}
    for error in errors:
        problems.setdefault(field_of(error), reason_of(error))
    return [FieldProblem(field, reason) for field, reason in problems.items()]


class NotAnObject(json.JSONDecodeError):
    """A request body that is valid JSON but not an object (an array, a string, a number)."""


def json_object(text: str) -> dict[str, Any]:
    """Parse a request body that must be one JSON object; raises JSONDecodeError saying why not.

    An array of two valid bodies is refused, not read as its first item."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise json.JSONDecodeError(f"not valid JSON ({exc.msg} at {where})", exc.doc, exc.pos) from exc
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        if value is None:
            kind = "null"
        raise NotAnObject(f"must be one JSON object, not {kind}", text, 0)
    return value
