"""Uploaded objects, read from either S3 event shape.

S3 reaches the pipeline in two shapes: EventBridge ``Object Created`` (what the ImageUploaded
rule delivers; also the body of each RenditionQueue message) and the classic S3 notification
(``Records[].s3``, what ``sam local generate-event s3 put`` makes). Both become the same
:class:`UploadedObject`. Other S3 events (deletions, keys outside ``uploads/``, objects of another
bucket than the function's) are :class:`Ignored` with a reason; anything that is not an S3 event at
all is :class:`~image_pipeline.event_shapes.UnsupportedEvent`.

``make reprocess`` sends a job a stored upload again in the EventBridge shape (:func:`object_created`),
marked with the request it answers (``answers``), so the job's answer pairs with that request and
not with the upload's own ``ImageUploaded``.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict

from image_pipeline.catalogue import EventType
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.keys import image_id_for_key, is_upload_key, upload_version

S3_EVENTS = "S3 'Object Created' events (EventBridge, or an S3 notification)"

log = logging.getLogger(__name__)


class UploadedObject(BaseModel):
    """One upload: one version of an object, the identity every image function is idempotent on."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    sequencer: str
    size: int | None = None
    etag: str | None = None
    uploaded_at: datetime
    # EventBridge's S3 key encoding is not documented (Powertools URL-decodes it, the local engine
    # sends it raw): when decoding changes the key, the decoded one is tried if the raw one is missing.
    decoded_key: str | None = None
    # The request this delivery answers when it is not the upload itself: a ReprocessRequested's
    # event id (make reprocess). None: the upload's own ImageUploaded.
    answers: str | None = None

    @property
    def image_id(self) -> str:
        return image_id_for_key(self.key)

    @property
    def version(self) -> str:
        return upload_version(self.sequencer)

    @property
    def upload_id(self) -> str:
        """Names this upload: the ImageUploaded event's id and every response's ``causationId``."""
        return f"{self.image_id}@{self.version}"

    @property
    def request_id(self) -> str:
        """The request the job's answer pairs with (its ``causationId``)."""
        return self.answers or self.upload_id

    def with_decoded_key(self) -> "UploadedObject | None":
        if self.decoded_key is None:
            return None
        return self.model_copy(update={"key": self.decoded_key, "decoded_key": None})


@dataclass(frozen=True)
class Ignored:
    """An S3 event the pipeline has nothing to do for, and why."""

    key: str | None
    reason: str


@dataclass(frozen=True)
class Announced:
    uploads: list[UploadedObject]
    ignored: list[Ignored]

    def report_ignored(self) -> list[dict[str, str | None]]:
        """One log line per S3 event there is nothing to do for; the same, as a result."""
        for ignored in self.ignored:
            log.info("ignored: %s", ignored.reason, extra={"key": ignored.key})
        return [{"key": i.key, "reason": i.reason} for i in self.ignored]


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _clean_etag(value: Any) -> str | None:
    return str(value).strip('"') or None if value else None


def _created(bucket: str, obj: dict[str, Any], time: str | None, *, key: str, may_be_encoded: bool) -> UploadedObject:
    decoded = unquote_plus(key)
    return UploadedObject(
        bucket=bucket,
        key=key,
        sequencer=str(obj.get("sequencer") or "0"),
        size=obj.get("size"),
        etag=_clean_etag(obj.get("etag") or obj.get("eTag")),
        uploaded_at=_parse_time(time),
        decoded_key=decoded if may_be_encoded and decoded != key else None,
    )


def _ignored(*, created: bool, what: str, bucket: str, key: str, expected: str | None) -> Ignored | None:
    if not created:
        return Ignored(key, f"{what} is not an upload")
    if expected is not None and bucket != expected:
        return Ignored(key, f"s3://{bucket}/{key} is not in this stack's images bucket ({expected})")
    if not is_upload_key(key):
        return Ignored(key, f"s3://{bucket}/{key} is outside uploads/")
    return None


def _answers(event: dict[str, Any]) -> str | None:
    """The request a re-sent upload answers (see :func:`object_created`); None for S3's own events."""
    if "answers" not in event:
        return None
    answers = event["answers"]
    if answers.get("type") != EventType.REPROCESS_REQUESTED.value or not str(answers.get("eventId") or ""):
        raise ValueError(f"answers must name a {EventType.REPROCESS_REQUESTED.value} by its eventId: {answers!r}")
    return str(answers["eventId"])


def _from_eventbridge(event: dict[str, Any], expected: str | None) -> Announced:
    detail = event["detail"]
    bucket, obj = detail["bucket"]["name"], detail["object"]
    key, kind = str(obj["key"]), str(event["detail-type"])
    created = kind == "Object Created"
    if ignored := _ignored(created=created, what=f"'{kind}'", bucket=bucket, key=key, expected=expected):
        return Announced([], [ignored])
    upload = _created(bucket, obj, event.get("time"), key=key, may_be_encoded=True)
    if (answers := _answers(event)) is not None:
        upload = upload.model_copy(update={"answers": answers, "decoded_key": None})
    return Announced([upload], [])


def object_created(upload: UploadedObject, *, answers: str) -> dict[str, Any]:
    """A stored upload as the EventBridge "Object Created" event its job reads, marked with the
    request (a ReprocessRequested's event id) the job's answer is to pair with."""
    return {
        "version": "0",
        "id": answers,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": upload.uploaded_at.isoformat(),
        "resources": [f"arn:aws:s3:::{upload.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": upload.bucket},
            "object": {"key": upload.key, "size": upload.size, "etag": upload.etag, "sequencer": upload.sequencer},
            "reason": "PutObject",
        },
        "answers": {"type": EventType.REPROCESS_REQUESTED.value, "eventId": answers},
    }


def _from_notification(event: dict[str, Any], expected: str | None) -> Announced:
    uploads, ignored = [], []
    for record in event["Records"]:
        s3, name = record["s3"], str(record.get("eventName", ""))
        bucket, obj = s3["bucket"]["name"], s3["object"]
        key = unquote_plus(str(obj["key"]))  # S3 notifications URL-encode keys ("my+photo.jpg")
        created = name.startswith("ObjectCreated:")
        if skip := _ignored(created=created, what=f"'{name}'", bucket=bucket, key=key, expected=expected):
            ignored.append(skip)
        else:
            uploads.append(_created(bucket, obj, record.get("eventTime"), key=key, may_be_encoded=False))
    return Announced(uploads, ignored)


def _is_notification(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and all(isinstance(r, dict) and "s3" in r for r in records)


def parse_uploads(event: Any, *, function: str, bucket: str | None = None) -> Announced:
    """The uploads an S3 event announces (and what it announces that is not one). With ``bucket``,
    objects of any other bucket are ignored (only a hand-made event names one: the rules match the
    images bucket).

    Raises :class:`UnsupportedEvent` naming ``function`` for anything but an S3 event.
    """
    if not isinstance(event, dict):
        raise UnsupportedEvent(function, S3_EVENTS, event)
    try:
        if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
            return _from_eventbridge(event, bucket)
        if _is_notification(event):
            return _from_notification(event, bucket)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UnsupportedEvent(function, S3_EVENTS, event, problem=f"malformed: {exc!r}") from exc
    raise UnsupportedEvent(function, S3_EVENTS, event)
