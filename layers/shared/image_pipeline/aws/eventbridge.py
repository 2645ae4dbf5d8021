"""EventBridge adapter: publishes pipeline events to the app bus."""

import json
import os
from collections.abc import Sequence
from itertools import batched
from typing import TYPE_CHECKING

import boto3

from image_pipeline.events import PipelineEvent
from image_pipeline.ports import EventPublisher

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10  # PutEvents limit
MAX_ENTRY_BYTES = 256 * 1024  # PutEvents limit per entry


class PublishFailed(RuntimeError):
    """EventBridge refused some entries; the caller must not treat the work as done."""


class EventBridgePublisher(EventPublisher):
    def __init__(self, bus_name: str, source: str, client: "EventBridgeClient | None" = None) -> None:
        self._bus = bus_name
        self._source = source
        self._events = client or boto3.client("events")

    def _entry(self, event: PipelineEvent) -> "PutEventsRequestEntryTypeDef":
        detail = json.dumps(event.detail(), separators=(",", ":"))
        if len(detail.encode()) > MAX_ENTRY_BYTES:
            raise ValueError(f"{event.type} for {event.image_id} is over EventBridge's 256 KB entry limit")
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": event.type.value,
            "Detail": detail,
            "Time": event.occurred_at,
        }
        # Carry the X-Ray trace into the targets (Lambda sets this per invocation).
        if trace_header := os.environ.get("_X_AMZN_TRACE_ID"):
            entry["TraceHeader"] = trace_header
        return entry

    def publish(self, events: Sequence[PipelineEvent]) -> None:
        for chunk in batched(events, MAX_ENTRIES_PER_CALL, strict=False):
            response = self._events.put_events(Entries=[self._entry(e) for e in chunk])
            if response.get("FailedEntryCount", 0):
                errors = sorted(
                    {f"{r.get('ErrorCode')}: {r.get('ErrorMessage')}" for r in response["Entries"] if "ErrorCode" in r}
                )
                raise PublishFailed(f"{response['FailedEntryCount']} of {len(chunk)} events not published: {errors}")
