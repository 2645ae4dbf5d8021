"""The tracker's status announcements, as the notifier and the webhook sender read them.

``ImageStatusChanged`` is published by the tracker on every status change of an image, and
``EditStatusChanged`` on every status change of one of its edits (its own ``version``s), in the
pipeline's envelope (schemas in ``image_pipeline.contracts``)::

    data = {"status", "previous", "reasonCode", "reason", "version": <grows by one per change of
            this image, or of this edit>, "final": <bool>, "latencyMs": <to the final status>,
            "upload": {"version", "key", "uploadedAt"} | null  (an image's),
            "editId"  (an edit's)}

They are read as the tracker reads any event: an event that breaks its contract, or that does
not come from the tracker, is refused.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from image_pipeline.events import EventType, NotAPipelineEvent, PipelineEvent
from image_pipeline.tracker import pipeline_event

STATUS_CHANGES = frozenset({EventType.IMAGE_STATUS_CHANGED, EventType.EDIT_STATUS_CHANGED})
IMAGE_STREAM = "image"


class NotAStatusChange(ValueError):
    """The event is not a status change the notifier can read."""


class _Upload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    version: str | None = None
    key: str | None = None


class _ChangeData(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    status: str = Field(min_length=1)
    previous: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    upload: _Upload | None = None
    version: int = Field(ge=0)
    latency_ms: int | None = Field(default=None, ge=0)
    final: bool
    edit_id: str | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class StatusChange:
    event: PipelineEvent
    data: _ChangeData

    @classmethod
    def from_event(cls, event: PipelineEvent) -> Self:
        if event.type not in STATUS_CHANGES:
            raise NotAStatusChange(f"{event.type.value} is not a status change")
        try:
            data = _ChangeData.model_validate(event.data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise NotAStatusChange(f"{event.type.value} {event.event_id}: {problems}") from exc
        if (event.type is EventType.EDIT_STATUS_CHANGED) != (data.edit_id is not None):
            raise NotAStatusChange(f"{event.type.value} {event.event_id}: editId is set exactly for edits")
        return cls(event=event, data=data)

    @classmethod
    def from_eventbridge(cls, event: dict[str, Any]) -> Self:
        """Read the EventBridge event as delivered: a status change that keeps its contract, from
        the tracker (raises NotAStatusChange for anything else)."""
        detail_type = event.get("detail-type")
        if detail_type not in STATUS_CHANGES:
            raise NotAStatusChange(f"{detail_type!r} is not a status change")
        try:
            return cls.from_event(pipeline_event(event))
        except (NotAPipelineEvent, ValueError) as exc:
            raise NotAStatusChange(str(exc)) from exc

    @property
    def image_id(self) -> str:
        return self.event.image_id

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def edit_id(self) -> str | None:
        return self.data.edit_id

    @property
    def stream(self) -> str:
        """Versions count per image, and per edit: pushes are ordered within a stream."""
        return IMAGE_STREAM if self.edit_id is None else f"edit:{self.edit_id}"

    @property
    def status(self) -> str:
        return self.data.status

    @property
    def version(self) -> int:
        return self.data.version

    @property
    def final(self) -> bool:
        return self.data.final

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at

    @property
    def upload_version(self) -> str | None:
        return self.data.upload.version if self.data.upload else None

    def summary(self) -> dict[str, Any]:
        """What a watcher is told of this change (the final result is added by the caller)."""
        summary: dict[str, Any] = {
            "type": self.event.type.value,
            "imageId": self.image_id,
            "eventId": self.event_id,
            "version": self.version,
            "status": self.status,
            "previous": self.data.previous,
            "reasonCode": self.data.reason_code,
            "reason": self.data.reason,
            "final": self.final,
            "occurredAt": self.occurred_at.isoformat(),
            "latencyMs": self.data.latency_ms,
        }
        if self.edit_id is not None:
            summary["editId"] = self.edit_id
        return summary
