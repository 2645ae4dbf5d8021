"""The hub's validator: check each forwarded event against the registry, republish the valid ones
as ``valid.<source>`` and quarantine the rest with their reason.

Republishing is what lets the hub fan out (EventBridge does not pass an event that came from
another account on to a third one) and the ``valid.`` prefix is the loop guard: the validator
takes only the producers' own sources and refuses a ``valid.*`` event outright.
"""

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import batched
from typing import Any, cast

from image_pipeline import contracts
from image_pipeline.hub import is_republished, republished_source

log = logging.getLogger(__name__)

MAX_REPUBLISH_CHUNK = 10  # PutEvents takes at most 10 entries per call


@dataclass(frozen=True)
class Republish:
    """A valid event, ready to go out again under ``valid.<source>``."""

    event_id: str  # the envelope's eventId: what republishing is idempotent on
    source: str  # already valid.<producer source>
    detail_type: str
    detail: Mapping[str, Any]
    time: str | None
    schema: str


@dataclass(frozen=True)
class Quarantined:
    """An event that broke its contract, with the reason code and what exactly broke."""

    reason: str
    message: str
    event: Any  # as received (may not even be a JSON object)

    def body(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "event": self.event}


@dataclass
class Outcome:
    republished: list[Republish] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


class Republisher(ABC):
    @abstractmethod
    def publish(self, events: Sequence[Republish]) -> None:
        """Put every event on the central bus, or raise (a partial publish is an error)."""


class QuarantineQueue(ABC):
    @abstractmethod
    def send(self, events: Sequence[Quarantined]) -> None: ...


class RepublishLog(ABC):
    """Which event ids the hub already republished (so a redelivery does not publish twice)."""

    @abstractmethod
    def seen(self, event_ids: Iterable[str]) -> set[str]: ...

    @abstractmethod
    def mark(self, event_ids: Iterable[str]) -> None: ...


def triage(event: Any, producer_sources: frozenset[str]) -> Republish | Quarantined:
    """Valid or not, and why. Never raises: every input ends one way or the other."""
    if not isinstance(event, Mapping):
        return Quarantined("not_an_event", "expected an EventBridge event (a JSON object)", event)
    source = str(event.get("source", ""))
    detail_type = str(event.get("detail-type", ""))
    if is_republished(source):
        return Quarantined("already_republished", f"{source!r} is a republished source: it must not loop", event)
    if source not in producer_sources:
        allowed = ", ".join(sorted(producer_sources))
        return Quarantined("unknown_source", f"source {source!r} is not a producer of this hub ({allowed})", event)
    detail = event.get("detail")
    try:
        schema = contracts.validate(detail_type, detail)
    except contracts.ContractViolation as exc:
        return Quarantined(exc.reason, str(exc), event)
    valid = cast("Mapping[str, Any]", detail)  # validate() made sure it is an object with metadata
    return Republish(
        event_id=str(valid["metadata"]["eventId"]),
        source=republished_source(source),
        detail_type=detail_type,
        detail=valid,
        time=event.get("time"),
        schema=str(schema),
    )


def parse_message(body: str) -> Any:
    """An SQS message body as the rule delivered it (the event JSON); broken JSON is kept as text."""
    try:
        return json.loads(body)
    except ValueError:
        return body


def validate_and_republish(
    events: Sequence[Any],
    *,
    producer_sources: frozenset[str],
    republisher: Republisher,
    quarantine: QuarantineQueue,
    republished: RepublishLog,
) -> Outcome:
    """Republish the batch's valid events once each, then quarantine the invalid ones.

    The republish goes first, in chunks of 10, each marked by event id once the bus took it, so a
    retry after a failure (raised by the republisher) republishes only what is still missing. Quarantine comes
    last: a failure there retries the batch without republishing anything twice.
    """
    outcome = Outcome()
    fresh: dict[str, Republish] = {}
    for event in events:
        verdict = triage(event, producer_sources)
        if isinstance(verdict, Quarantined):
            outcome.quarantined.append(verdict)
        elif verdict.event_id not in fresh:  # the same event twice in one batch goes out once
            fresh[verdict.event_id] = verdict
        else:
            outcome.duplicates.append(verdict.event_id)
    already = republished.seen(fresh)
    outcome.duplicates.extend(sorted(already))
    outcome.republished = [r for event_id, r in fresh.items() if event_id not in already]
    for chunk in batched(outcome.republished, MAX_REPUBLISH_CHUNK, strict=False):
        republisher.publish(chunk)
        republished.mark(r.event_id for r in chunk)
    for bad in outcome.quarantined:
        log.warning("quarantined an event: %s", bad.message, extra={"reason": bad.reason})
    if outcome.quarantined:
        quarantine.send(outcome.quarantined)
    return outcome
