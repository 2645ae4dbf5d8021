"""An uploaded object, read from either S3 event shape, and the ImageUploaded event it stands for.

S3 reaches the image functions in two shapes: EventBridge ``Object Created`` (what the
ImageUploaded rule delivers; also the body of each RenditionQueue message) and the classic S3
notification (``Records[].s3``, what ``sam local generate-event s3 put`` makes). Both become
the same :class:`UploadedObject`.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent
from pydantic import BaseModel, ConfigDict

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.keys import NotAnUploadKey, image_id_from_upload_key

S3_PRODUCER = "aws.s3"

log = logging.getLogger(__name__)


class NotAnUploadEvent(ValueError):
    """The event is neither an S3 ``Object Created`` event nor an S3 notification."""


class UploadedObject(BaseModel):
    """One version of an uploaded object: the identity every image function is idempotent on."""

    model_config = ConfigDict(frozen=True)

    image_id: str
    bucket: str
    key: str
    sequencer: str
    size: int | None = None
    etag: str | None = None
    uploaded_at: datetime

    @property
    def upload_id(self) -> str:
        """Names this upload (object + version): every response event's ``causationId``."""
        return f"{self.key}#{self.sequencer}"

    def uploaded_event(self) -> PipelineEvent:
        return PipelineEvent.new(
            EventType.IMAGE_UPLOADED,
            image_id=self.image_id,
            producer=S3_PRODUCER,
            event_id=self.upload_id,
            occurred_at=self.uploaded_at,
            data={"bucket": self.bucket, "key": self.key, "size": self.size, "etag": self.etag},
        )


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _upload(
    *, bucket: str, key: str, sequencer: str, size: int | None, etag: str | None, time: str | None
) -> UploadedObject | None:
    try:
        image_id = image_id_from_upload_key(key)
    except NotAnUploadKey as exc:
        # Not an object this pipeline issued (e.g. dropped in by hand): nothing to answer.
        log.warning("ignoring s3://%s/%s: %s", bucket, key, exc)
        return None
    return UploadedObject(
        image_id=image_id,
        bucket=bucket,
        key=key,
        sequencer=sequencer,
        size=size,
        etag=etag,
        uploaded_at=_parse_time(time),
    )


def _announced(event: dict[str, Any]) -> list[UploadedObject | None]:
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        bridge = S3EventBridgeNotificationEvent(event)
        obj = bridge.detail.object
        return [
            _upload(
                bucket=bridge.detail.bucket.name,
                key=obj.key,
                sequencer=obj.sequencer,
                size=obj.size,
                etag=obj.etag,
                time=bridge.time,
            )
        ]
    if isinstance(event.get("Records"), list):
        return [
            # Powertools URL-decodes the classic notification's key.
            _upload(
                bucket=r.s3.bucket.name,
                key=r.s3.get_object.key,
                sequencer=r.s3.get_object.sequencer,
                size=r.s3.get_object.size,
                etag=r.s3.get_object.etag,
                time=r.event_time,
            )
            for r in S3Event(event).records
            if r.event_name.startswith("ObjectCreated:")
        ]
    raise NotAnUploadEvent("expected an S3 'Object Created' EventBridge event or an S3 notification")


def parse_uploads(event: dict[str, Any]) -> list[UploadedObject]:
    """The pipeline's uploads an S3 event announces, whichever of the two shapes it has."""
    try:
        return [upload for upload in _announced(event) if upload is not None]
    except (KeyError, TypeError, AttributeError) as exc:
        raise NotAnUploadEvent(f"malformed S3 event: {exc!r}") from exc
