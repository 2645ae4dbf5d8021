"""Consumer B's domain: daily statistics of the pipeline, counted exactly once per event.

Two kinds of counters, each written in one transaction with the marker that makes it happen once:

* per event (the event's own day): events by type, rejects by reason, bytes in (the analysed
  original) and out (every rendition written), originals by format;
* per image, when it reaches a final status (the day it got there): images by status and the
  processing-latency histogram (``latency.le_<ms>``) that p50/p95 are read from.

An image's status comes from the same event pairing as the tracker's (``pairing.derive_state``)
over the events this consumer has seen for it, so both agree on what COMPLETE means.
"""

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.pairing import ImageStatus, derive_state

log = logging.getLogger(__name__)

FINAL = frozenset({ImageStatus.COMPLETE, ImageStatus.REJECTED, ImageStatus.FAILED})
# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open ("le_inf").
LATENCY_BOUNDS_MS = (250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000)
# derive_state's deadline is irrelevant here (stalls come as events); any positive value will do.
_NO_DEADLINE = timedelta(days=1)


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
    return counters


@dataclass(frozen=True)
class FinalImage:
    image_id: str
    status: ImageStatus
    day: str
    latency_ms: int

    def counters(self) -> dict[str, int]:
        return {f"images.{self.status.value}": 1, latency_bucket(self.latency_ms): 1}


def final_image(image_id: str, events: Sequence[PipelineEvent]) -> FinalImage | None:
    """The image's final status and latency (its request to its last answer), or None while open."""
    state = derive_state(events, _NO_DEADLINE)
    if state.status not in FINAL or state.current is None:
        return None
    request = state.current
    answers = [*request.responses.values(), *([request.closing] if request.closing else [])]
    finished = max(e.occurred_at for e in answers)
    latency = round((finished - request.started_at).total_seconds() * 1000)
    return FinalImage(image_id, state.status, finished.date().isoformat(), max(latency, 0))


class StatsStore(ABC):
    @abstractmethod
    def record(self, event: PipelineEvent, counters: Mapping[str, int]) -> bool:
        """In one transaction: keep the event (its id once) and add ``counters`` to its day.
        False, and nothing added, when this event id was already recorded."""

    @abstractmethod
    def image_events(self, image_id: str) -> list[PipelineEvent]: ...

    @abstractmethod
    def finalize(self, final: FinalImage) -> bool:
        """In one transaction: mark the image final (once) and add its counters to its day."""

    @abstractmethod
    def daily(self, day: str) -> dict[str, int]:
        """The day's counters (flat names, as ``event_counters`` and ``FinalImage`` make them)."""


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
    final: FinalImage | None
    pushed: tuple[str, ...] = ()


def aggregate(event: PipelineEvent, store: StatsStore, push: StatsPush | None = None) -> Aggregated:
    """Count the event once; when its image reaches a final status, count the image once.

    Every consumer records its event before reading the image's events (strongly consistent), so
    of two answers racing to complete an image at least the later one sees both; ``finalize`` is
    conditional, so exactly one counts it. A redelivered event re-runs the final step, which
    repairs an attempt that died between the two transactions.
    """
    fresh = store.record(event, event_counters(event))
    final = final_image(event.image_id, store.image_events(event.image_id))
    changed = {event.occurred_at.date().isoformat()} if fresh else set()
    if final is not None and store.finalize(final):
        changed.add(final.day)
    pushed = _push(push, store, sorted(changed)) if push is not None else ()
    return Aggregated(duplicate=not fresh, final=final, pushed=pushed)


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

    @classmethod
    def from_counters(cls, day: str, counters: Mapping[str, int]) -> "DailyStats":
        def group(prefix: str) -> dict[str, int]:
            return {k.removeprefix(prefix): int(v) for k, v in sorted(counters.items()) if k.startswith(prefix)}

        return cls(
            date=day,
            images=group("images."),
            events=group("events."),
            rejects=group("rejects."),
            formats=group("formats."),
            latency=group("latency."),
            bytes_in=int(counters.get("bytesIn", 0)),
            bytes_out=int(counters.get("bytesOut", 0)),
        )

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
        }
