"""The event envelope: the one place that builds and reads pipeline events.

Every event on the app bus has the same ``detail`` shape::

    {"metadata": {"correlationId": <imageId>, "eventId": ..., "occurredAt": ...,
                  "causationId": <eventId of the request it answers>, "producer": ...},
     "data": {...}}

The correlation id *is* the image id: one id per image, from ``POST /images`` to the last log line.
"""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


class EventType(StrEnum):
    UPLOAD_REQUESTED = "UploadRequested"
    IMAGE_UPLOADED = "ImageUploaded"
    THUMBNAIL_CREATED = "ThumbnailCreated"
    RENDITIONS_CREATED = "RenditionsCreated"
    IMAGE_ANALYZED = "ImageAnalyzed"
    IMAGE_REJECTED = "ImageRejected"
    IMAGE_PROCESSING_FAILED = "ImageProcessingFailed"
    IMAGE_PROCESSING_STALLED = "ImageProcessingStalled"
    UPLOAD_SUPERSEDED = "UploadSuperseded"  # a newer upload replaced the object before a job read it
    UPLOAD_EXPIRED = "UploadExpired"  # the upload window closed with nothing uploaded
    EDIT_REQUESTED = "EditRequested"
    EDIT_COMPLETED = "EditCompleted"
    EDIT_REJECTED = "EditRejected"
    EDIT_FAILED = "EditFailed"
    # issue 17: the tracker's one announcement of each status change (the lead's catalogue owns these)
    IMAGE_STATUS_CHANGED = "ImageStatusChanged"
    EDIT_STATUS_CHANGED = "EditStatusChanged"
    # issue 20: the requester was told (never change a status; recorded in the image's trace)
    STATUS_PUSHED = "StatusPushed"
    WEBHOOK_ATTEMPTED = "WebhookAttempted"


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
            raise NotAPipelineEvent(f"not a pipeline event ({detail_type!r}): {exc.error_count()} problem(s)") from exc

    @classmethod
    def from_eventbridge(cls, event: dict[str, Any]) -> Self:
        """Read an app-bus event as delivered by EventBridge (``detail-type`` + ``detail``)."""
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise NotAPipelineEvent("event has no detail object")
        return cls.from_detail(str(event.get("detail-type", "")), detail)
