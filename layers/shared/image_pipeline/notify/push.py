"""Pushing an image's status changes to the WebSocket connections watching it.

Each change is pushed to every watcher of the image, in order: the push of a version is claimed
first (:meth:`Watchers.advance`), so a change that arrives after a newer one of the same stream
(EventBridge does not keep order) is not pushed at all, and watchers never see a status go back.
Every message carries its ``version``, so a client can also drop anything older than what it
has. The final status carries the result (``image`` or ``edit``: what ``GET`` answers, with the
outputs' presigned links). A connection that is gone (410) is forgotten, unless ``$connect``
admitted it moments ago: API Gateway answers 410 until ``$connect`` has answered and the
connection is open, so a push that races a new watcher's handshake is tried again for a few
seconds (while it is still the newest change claimed: a watcher never hears a status go back),
and the watcher is kept (the next change tries it again; ``$disconnect`` or the TTL forgets it
if it never opens).

Each push is then an event on the app bus, ``StatusPushed``, which the tracker records under the
image (it never changes a status): the trace says who was told what, and when.
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.notify.changes import StatusChange
from image_pipeline.notify.ports import Pusher, Watcher, Watchers

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's limit for one WebSocket message
# API Gateway waits at most 29 s for $connect's integration: a watcher admitted less than this
# long ago may not be open yet, and its 410 means "not yet", not "gone".
OPENING_WINDOW = timedelta(seconds=30)
# Seconds between tries of a push to a watcher that is opening (3.75 s in all, of the 10 s the
# notifier has); its handshake ends moments after $connect has answered.
OPENING_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class PushReport:
    change: StatusChange
    watchers: int
    delivered: int = 0
    gone: int = 0
    opening: int = 0  # admitted moments ago, not open before the retries ended (or a newer change overtook them)
    skipped: str | None = None  # why nothing was pushed ("no watchers", "stale")
    latency_ms: int | None = None  # from the change to its last push

    def to_dict(self) -> dict[str, Any]:
        return {
            "imageId": self.change.image_id,
            "version": self.change.version,
            "status": self.change.status,
            "watchers": self.watchers,
            "delivered": self.delivered,
            "gone": self.gone,
            "opening": self.opening,
            "skipped": self.skipped,
        }


def message(change: StatusChange, result: dict[str, Any] | None) -> bytes:
    """One WebSocket message: the change, plus the result when it is final. A result that would
    make the message too big is left out; the client reads it from ``statusUrl`` instead."""
    body = change.summary()
    status_url = f"images/{change.image_id}" + (f"/edits/{change.edit_id}" if change.edit_id else "")
    body["statusUrl"] = status_url
    if change.final and result is not None:
        body["edit" if change.edit_id else "image"] = result
    encoded = json.dumps(body, separators=(",", ":")).encode()
    if len(encoded) > MAX_MESSAGE_BYTES:
        body.pop("edit", None)
        body.pop("image", None)
        encoded = json.dumps(body, separators=(",", ":")).encode()
    return encoded


def push_change(
    change: StatusChange,
    *,
    watchers: Watchers,
    pusher: Pusher,
    describe: Callable[[StatusChange], dict[str, Any] | None],
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Push one status change to the image's watchers (see the module's docstring)."""
    connections = watchers.watching(change.image_id)
    if not connections:
        return PushReport(change, watchers=0, skipped="no watchers")
    if not watchers.advance(change.image_id, change.stream, change.version, change.event_id):
        log.info("image %s: version %s of %s is stale, not pushed", change.image_id, change.version, change.stream)
        return PushReport(change, watchers=len(connections), skipped="stale")
    encoded = message(change, describe(change) if change.final else None)
    refused, now = _push_each(connections, encoded, pusher), clock()
    gone = [w for w in refused if not _opening(w, now)]
    opening = [w for w in refused if _opening(w, now)]
    for watcher in gone:  # before any waiting: a notifier cut short has still forgotten them
        watchers.remove(watcher.connection_id)
    for delay in OPENING_RETRY_DELAYS:
        if not opening:
            break
        log.info("image %s: %d watcher(s) not open yet, trying again in %s s", change.image_id, len(opening), delay)
        sleep(delay)
        # Claimed again before each try: once a newer change is claimed it goes to these watchers,
        # and this one must not arrive after it.
        if not watchers.advance(change.image_id, change.stream, change.version, change.event_id):
            break
        opening = _push_each(opening, encoded, pusher)
    latency = round((clock() - change.occurred_at).total_seconds() * 1000)
    return PushReport(
        change,
        watchers=len(connections),
        delivered=len(connections) - len(gone) - len(opening),
        gone=len(gone),
        opening=len(opening),
        latency_ms=max(latency, 0),
    )


def _push_each(connections: Sequence[Watcher], encoded: bytes, pusher: Pusher) -> list[Watcher]:
    """Push the message to each connection; those that answered 410."""
    return [w for w in connections if not pusher.push(w.connection_id, encoded)]


def _opening(watcher: Watcher, now: datetime) -> bool:
    """Admitted so recently that a 410 may only mean its handshake has not ended."""
    return watcher.admitted_at is not None and now - watcher.admitted_at < OPENING_WINDOW


def pushed_event(report: PushReport, *, producer: str) -> PipelineEvent | None:
    """The ``StatusPushed`` event of a push that happened (None when nothing was pushed)."""
    if report.skipped is not None:
        return None
    change = report.change
    data: dict[str, Any] = {
        "status": change.status,
        "version": change.version,
        "final": change.final,
        "watchers": report.watchers,
        "delivered": report.delivered,
        "gone": report.gone,
        "latencyMs": report.latency_ms,
    }
    if report.opening:
        data["opening"] = report.opening
    if change.edit_id is not None:
        data["editId"] = change.edit_id
    return PipelineEvent.new(
        EventType.STATUS_PUSHED,
        image_id=change.image_id,
        producer=producer,
        event_id=f"pushed:{change.event_id}",  # one per change: a retried push is recorded once
        causation_id=change.event_id,
        data=data,
    )
