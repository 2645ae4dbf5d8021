"""The aggregates consumer's domain: daily statistics of the pipeline, exactly once per event.

Two kinds of counters, each written in one transaction with the marker that makes it happen once:

* per event (the event's own day): events by type, rejects by reason, bytes in (the analysed
  original) and out (every rendition written), originals by format; moderation's verdicts
  (``moderation.flagged``, ``.passed``, ``.unchecked`` when the backend looks at nothing) and the
  most confident labels of each recognized image (``labels.<name>``);
* per image (the day the image was created): how many images are in each status *now*, and the
  latency histogram (``latency.le_<ms>``) of those in a final status, that p50/p95 are read from.

An image's status is never re-derived here: it is the tracker's, as its ``ImageStatusChanged``
announced it. Each announcement moves the image from its counter to the new one; one with a
version no higher than the image's applied one (late, or delivered again) changes nothing. So the
counts here, the API and the archive name the same status for every image.
"""

import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from image_pipeline.catalogue import ImageStatus
from image_pipeline.events import EventType, PipelineEvent

log = logging.getLogger(__name__)

# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open ("le_inf").
LATENCY_BOUNDS_MS = (250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000)
# The labels of a recognized image counted: its most confident few (the rest are mostly their
# parents, "Animal" beside "Dog"). A day's item holds one counter per label name seen.
TOP_LABELS = 5
MAX_LABEL_NAME = 100
# DailyStats.to_dict shows the day's most counted labels.
SHOWN_LABELS = 10


def day_of(event: PipelineEvent) -> str:
    return event.occurred_at.date().isoformat()


def latency_bucket(latency_ms: int) -> str:
    for bound in LATENCY_BOUNDS_MS:
        if latency_ms <= bound:
            return f"latency.le_{bound}"
    return "latency.le_inf"


def event_counters(event: PipelineEvent) -> dict[str, int]:
    """What one event adds to its day."""
    counters = {f"events.{event.type.value}": 1}
    data = event.data
    if event.type is EventType.IMAGE_REJECTED:
        counters[f"rejects.{data.get('reason', 'unknown')}"] = 1
    if event.type in {EventType.THUMBNAIL_CREATED, EventType.RENDITIONS_CREATED}:
        counters["bytesOut"] = sum(int(o.get("bytes", 0)) for o in data.get("outputs", []))
    if event.type is EventType.IMAGE_ANALYZED:
        analysis = data.get("analysis", {})
        counters["bytesIn"] = int(analysis.get("bytes", 0))
        counters[f"formats.{analysis.get('format', 'unknown')}"] = 1
    if event.type is EventType.IMAGE_REJECTED and data.get("reason") == "moderation":
        counters["moderation.flagged"] = 1
    if event.type is EventType.IMAGE_RECOGNIZED:
        counters.update(_recognized(data.get("recognition") or {}))
    return counters


def _recognized(recognition: Mapping[str, Any]) -> dict[str, int]:
    """A recognized image's verdict (cleared; or unchecked: its backend scores nothing) and labels."""
    score = (recognition.get("moderation") or {}).get("score")
    counters = {"moderation.passed" if score is not None else "moderation.unchecked": 1}
    labels = sorted(recognition.get("labels") or [], key=lambda label: -float(label.get("confidence", 0)))
    for label in labels[:TOP_LABELS]:
        counters[f"labels.{str(label.get('name'))[:MAX_LABEL_NAME]}"] = 1
    return counters


@dataclass(frozen=True)
class ImageStatusView:
    """An image's status as the tracker announced it, and where the image is counted."""

    image_id: str
    status: ImageStatus
    version: int
    reason_code: str | None
    reason: str | None
    day: str  # the day the image was created: where its status is counted
    latency_ms: int | None  # upload -> final status, when final

    @classmethod
    def announced(cls, event: PipelineEvent) -> "ImageStatusView":
        data = event.data
        return cls(
            image_id=event.image_id,
            status=ImageStatus(data["status"]),
            version=int(data["version"]),
            reason_code=data.get("reasonCode"),
            reason=data.get("reason"),
            day=datetime.fromisoformat(str(data["createdAt"])).date().isoformat(),
            latency_ms=data.get("latencyMs") if data.get("final") else None,
        )

    def counters(self, sign: int = 1) -> dict[str, int]:
        """What the image adds to its day's counters in this status (``sign`` -1: takes back)."""
        counters = {f"images.{self.status.value}": sign}
        if self.latency_ms is not None:
            counters[latency_bucket(self.latency_ms)] = sign
        return counters


def moved(current: ImageStatusView | None, new: ImageStatusView) -> dict[str, dict[str, int]]:
    """The counter changes, by day, of moving an image from ``current`` to ``new``."""
    days: dict[str, dict[str, int]] = defaultdict(dict)
    for view, sign in ((current, -1), (new, 1)):
        if view is None:
            continue
        for name, change in view.counters(sign).items():
            days[view.day][name] = days[view.day].get(name, 0) + change
    return {day: {k: v for k, v in counters.items() if v} for day, counters in days.items()}


class StatsStore(ABC):
    @abstractmethod
    def record(self, event: PipelineEvent, counters: Mapping[str, int]) -> bool:
        """In one transaction: keep the event (its id once) and add ``counters`` to its day.
        False, and nothing added, when this event id was already recorded."""

    @abstractmethod
    def image_status(self, image_id: str) -> ImageStatusView | None:
        """The image's status as last applied (None: no announcement yet)."""

    @abstractmethod
    def apply_status(self, new: ImageStatusView, replaces: ImageStatusView | None) -> bool:
        """In one transaction: store ``new`` as the image's status if the stored one is still
        ``replaces`` (by version; None: nothing stored), and move the image's counters
        (:func:`moved`). False, and nothing changed, when another writer got there first."""

    @abstractmethod
    def daily(self, day: str) -> dict[str, int]:
        """The day's counters (flat names, as ``event_counters`` and ``ImageStatusView`` make them)."""


class PushFailed(RuntimeError):
    """The live update could not be pushed to subscribers (the counts themselves are stored)."""


class StatsPush(ABC):
    """Pushes a day's counters to whoever watches them live (the GraphQL subscription)."""

    @abstractmethod
    def push(self, day: str, counters: Mapping[str, int]) -> None:
        """Raise :class:`PushFailed` when the subscribers could not be told."""


@dataclass(frozen=True)
class Aggregated:
    duplicate: bool
    status: ImageStatusView | None  # the image's status after this event, when it announced one
    pushed: tuple[str, ...] = ()


MAX_APPLY_ATTEMPTS = 5  # two announcements of one image racing (redeliveries): the later version wins


def aggregate(event: PipelineEvent, store: StatsStore, push: StatsPush | None = None) -> Aggregated:
    """Count the event once; when it is the tracker's ImageStatusChanged, move the image to its
    announced status unless a newer one was applied already."""
    fresh = store.record(event, event_counters(event))
    changed = {day_of(event)} if fresh else set()
    status = None
    if event.type is EventType.IMAGE_STATUS_CHANGED:
        new = ImageStatusView.announced(event)
        for _ in range(MAX_APPLY_ATTEMPTS):
            current = store.image_status(event.image_id)
            if current is not None and current.version >= new.version:
                status = current  # late or repeated: the image moved on (or is there) already
                break
            if store.apply_status(new, replaces=current):
                changed.update(moved(current, new))
                status = new
                break
        else:
            raise RuntimeError(f"image {event.image_id}: its status kept changing under {MAX_APPLY_ATTEMPTS} attempts")
    pushed = _push(push, store, sorted(changed)) if push is not None else ()
    return Aggregated(duplicate=not fresh, status=status, pushed=pushed)


def _push(push: StatsPush, store: StatsStore, days: list[str]) -> tuple[str, ...]:
    pushed = []
    for day in days:
        try:
            push.push(day, store.daily(day))
        except PushFailed as exc:
            # Live dashboards miss one update; the counts are stored and dailyStats reads them.
            log.warning("could not push the %s stats: %s", day, exc)
            continue
        pushed.append(day)
    return tuple(pushed)


@dataclass(frozen=True)
class DailyStats:
    """One day, grouped for people and GraphQL (the same shape the AppSync resolver returns)."""

    date: str
    images: dict[str, int]
    events: dict[str, int]
    rejects: dict[str, int]
    formats: dict[str, int]
    latency: dict[str, int]
    bytes_in: int
    bytes_out: int
    moderation: dict[str, int]
    labels: dict[str, int]

    @classmethod
    def from_counters(cls, day: str, counters: Mapping[str, int]) -> "DailyStats":
        def group(prefix: str) -> dict[str, int]:
            # an image moved out of a status leaves its counter at 0: not shown
            return {k.removeprefix(prefix): int(v) for k, v in sorted(counters.items()) if k.startswith(prefix) and v}

        return cls(
            date=day,
            images=group("images."),
            events=group("events."),
            rejects=group("rejects."),
            formats=group("formats."),
            latency=group("latency."),
            bytes_in=int(counters.get("bytesIn", 0)),
            bytes_out=int(counters.get("bytesOut", 0)),
            moderation=group("moderation."),
            labels=group("labels."),
        )

    def top_labels(self, count: int = SHOWN_LABELS) -> dict[str, int]:
        """The day's most counted labels, most first (ties by name)."""
        return dict(sorted(self.labels.items(), key=lambda item: (-item[1], item[0]))[:count])

    def percentile(self, q: float) -> int | None:
        """The upper bound (ms) of the histogram bucket holding the q-quantile (None: unbounded or empty)."""
        total = sum(self.latency.values())
        if not total:
            return None
        rank, seen = q * total, 0
        for bound in (*LATENCY_BOUNDS_MS, None):
            seen += self.latency.get(f"le_{bound}" if bound else "le_inf", 0)
            if seen >= rank:
                return bound
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "images": self.images,
            "events": self.events,
            "rejects": self.rejects,
            "formats": self.formats,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "latencyHistogramMs": self.latency,
            "latencyP50Ms": self.percentile(0.5),
            "latencyP95Ms": self.percentile(0.95),
            "moderation": self.moderation,
            "topLabels": self.top_labels(),
        }
