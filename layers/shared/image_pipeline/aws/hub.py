"""AWS adapters of the hub's validator: republish on the central bus, quarantine queue, and the
table of event ids already republished."""

import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
from boto3.dynamodb.types import TypeSerializer

from image_pipeline.hub.validation import MAX_REPUBLISH_CHUNK, Quarantined, QuarantineQueue, Republish, Republisher
from image_pipeline.hub.validation import RepublishLog as RepublishLogPort

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4  # the first call and three retries of the entries EventBridge refused
MAX_SQS_BATCH = 10


class RepublishFailed(RuntimeError):
    """EventBridge kept refusing entries after every retry: the batch must be retried whole."""


class EventBridgeRepublisher(Republisher):
    """PutEvents in chunks of 10; entries refused (``FailedEntryCount``) are retried with backoff,
    then the call fails loudly naming the error codes."""

    def __init__(self, bus_name: str, client: "EventBridgeClient | None" = None, backoff_seconds: float = 0.2) -> None:
        self._bus = bus_name
        self._events = client or boto3.client("events")
        self._backoff = backoff_seconds

    def _entry(self, event: Republish) -> "PutEventsRequestEntryTypeDef":
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": self._bus,
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
        }
        if event.time:
            entry["Time"] = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
        return entry

    def publish(self, events: Sequence[Republish]) -> None:
        for start in range(0, len(events), MAX_REPUBLISH_CHUNK):
            self._publish_chunk([self._entry(e) for e in events[start : start + MAX_REPUBLISH_CHUNK]])

    def _publish_chunk(self, entries: "list[PutEventsRequestEntryTypeDef]") -> None:
        errors: set[str] = set()
        for attempt in range(MAX_ATTEMPTS):
            response = self._events.put_events(Entries=entries)
            if not response.get("FailedEntryCount", 0):
                return
            # Results come back in the order of the entries; retry only the refused ones.
            refused = [(e, r) for e, r in zip(entries, response["Entries"], strict=True) if "ErrorCode" in r]
            errors = {f"{r.get('ErrorCode')}: {r.get('ErrorMessage')}" for _, r in refused}
            log.warning("EventBridge refused %d entries (attempt %d): %s", len(refused), attempt + 1, errors)
            entries = [e for e, _ in refused]
            time.sleep(self._backoff * 2**attempt)
        raise RepublishFailed(
            f"{len(entries)} event(s) not republished after {MAX_ATTEMPTS} attempts: {sorted(errors)}"
        )


class SqsQuarantine(QuarantineQueue):
    """One message per invalid event: ``{"reason", "message", "event"}``, the reason also an attribute."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._url = queue_url
        self._sqs = client or boto3.client("sqs")

    def send(self, events: Sequence[Quarantined]) -> None:
        for start in range(0, len(events), MAX_SQS_BATCH):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(bad.body(), default=str),
                    "MessageAttributes": {"reason": {"DataType": "String", "StringValue": bad.reason}},
                }
                for index, bad in enumerate(events[start : start + MAX_SQS_BATCH])
            ]
            response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            if response.get("Failed"):
                raise RuntimeError(f"quarantine refused {len(response['Failed'])} message(s): {response['Failed']}")


class DynamoRepublishLog(RepublishLogPort):
    """``{"eventId": ..., "expiresAt": ...}`` per republished event, expired by TTL after
    ``remember_for`` (longer than any redelivery or replay of the archive can come back)."""

    def __init__(self, table_name: str, remember_for: timedelta, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._remember_for = remember_for
        self._db = client or boto3.client("dynamodb")

    def seen(self, event_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(event_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 100):  # BatchGetItem takes 100 keys
            keys = [{"eventId": {"S": i}} for i in ids[start : start + 100]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "eventId"}}
            while request:
                response = self._db.batch_get_item(RequestItems=request)  # type: ignore[arg-type]
                found.update(str(item["eventId"]["S"]) for item in response["Responses"].get(self._table, []))
                request = response.get("UnprocessedKeys") or {}  # type: ignore[assignment]
        return found

    def mark(self, event_ids: Iterable[str]) -> None:
        expires = int((datetime.now(UTC) + self._remember_for).timestamp())
        serialize = TypeSerializer().serialize
        for event_id in event_ids:
            item = {"eventId": serialize(event_id), "expiresAt": serialize(expires)}
            self._db.put_item(TableName=self._table, Item=item)
