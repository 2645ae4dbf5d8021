"""The event envelope: the one place that builds and reads pipeline events.

Every event on the app bus has the same ``detail`` shape::

    {"metadata": {"correlationId": <imageId>, "eventId": ..., "occurredAt": ...,
                  "causationId": <eventId of the request it answers>, "producer": ...},
     "data": {...}}

The correlation id *is* the image id: one id per image, from ``POST /images`` to the last log line.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from image_pipeline.catalogue import EventType
from image_pipeline.event_shapes import describe

__all__ = ["EventMetadata", "EventType", "NotAPipelineEvent", "PipelineEvent"]


class NotAPipelineEvent(ValueError):
    """The input is not an event of this pipeline (unknown type or broken envelope)."""


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class EventMetadata(_Camel):
    correlation_id: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    occurred_at: datetime
    producer: str
    causation_id: str | None = None


class PipelineEvent(_Camel):
    type: EventType
    metadata: EventMetadata
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def image_id(self) -> str:
        return self.metadata.correlation_id

    @property
    def event_id(self) -> str:
        return self.metadata.event_id

    @property
    def occurred_at(self) -> datetime:
        return self.metadata.occurred_at

    @property
    def causation_id(self) -> str | None:
        return self.metadata.causation_id

    @classmethod
    def new(
        cls,
        event_type: EventType,
        *,
        image_id: str,
        producer: str,
        data: dict[str, Any] | None = None,
        causation_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Self:
        metadata = EventMetadata(
            correlation_id=image_id,
            event_id=event_id or str(uuid.uuid4()),
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            causation_id=causation_id,
        )
        return cls(type=event_type, metadata=metadata, data=data or {})

    def detail(self) -> dict[str, Any]:
        """The EventBridge ``detail`` object (JSON-ready)."""
        return self.model_dump(mode="json", by_alias=True, exclude={"type"})

    @classmethod
    def from_detail(cls, detail_type: str, detail: dict[str, Any]) -> Self:
        try:
            return cls.model_validate({"type": detail_type, **detail})
        except ValidationError as exc:
            problems = [_problem(error) for error in exc.errors(include_url=False)]
            raise NotAPipelineEvent(
                f"not a pipeline event ({detail_type!r}): {len(problems)} problem(s): {'; '.join(problems)}"
            ) from exc

    @classmethod
    def from_eventbridge(cls, event: dict[str, Any]) -> Self:
        """Read an app-bus event as delivered by EventBridge (``detail-type`` + ``detail``)."""
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise NotAPipelineEvent(f"not a pipeline event: {describe(event)} has no detail object")
        return cls.from_detail(str(event.get("detail-type", "")), detail)


_JSON_TYPES = {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}
_EXPECTED = {"string_type": "text", "dict_type": "an object", "model_type": "an object", "int_type": "a number"}


def _problem(error: Any) -> str:
    """One validation error as ``<where in the EventBridge event>: <what is wrong>``, in this
    pipeline's words (no validation library's wording or prefixes)."""
    location = [str(part) for part in error["loc"]]
    where = "detail-type" if location == ["type"] else ".".join(["detail", *location])
    kind, given = str(error["type"]), error.get("input")
    if kind == "missing":
        return f"{where}: missing"
    if kind == "enum":
        return f"{where}: {given!r} is not an event type of this pipeline"
    if kind == "string_too_short":
        return f"{where}: empty"
    if kind.startswith(("datetime", "date_")):
        return f"{where}: {given!r} is not an ISO 8601 date-time"
    if kind in _EXPECTED:
        got = "null" if given is None else _JSON_TYPES.get(type(given), type(given).__name__)
        return f"{where}: must be {_EXPECTED[kind]}, not {got}"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ').removeprefix('Assertion failed, ')}"
