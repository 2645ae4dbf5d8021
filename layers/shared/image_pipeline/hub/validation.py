"""The hub's validator: check each forwarded event against the registry, republish the valid ones
as ``valid.<source>`` and quarantine the rest with their reason.

Republishing is what lets the hub fan out (EventBridge does not pass an event that came from
another account on to a third one) and the ``valid.`` prefix is the loop guard: the validator
takes only the producers' own sources and refuses a ``valid.*`` event outright.

Producers are who they say they are: each source comes from the account(s) the hub ties it to
(:class:`Producers`, the same map the central bus's policy is made from), and the republished
event names that account in ``metadata.producerAccount``, since consumers see it arrive from the
hub's account.
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
class Producers:
    """Which sources the hub takes, and from which accounts. A source with accounts of its own
    comes only from them; any other comes only from the hub's own account (one-account mode)."""

    sources: frozenset[str]
    accounts: Mapping[str, frozenset[str]]
    home: str  # the hub's account

    @classmethod
    def parse(cls, sources: str, accounts: str, *, home: str) -> "Producers":
        """From the template's joined list parameters: ``a,b`` and ``a=111111111111,b=222222222222``."""
        by_source: dict[str, set[str]] = {}
        for pair in filter(None, (p.strip() for p in accounts.split(","))):
            source, _, account = pair.partition("=")
            if not source or not account.isdigit() or len(account) != 12:
                raise ValueError(f"a producer account is source=<12 digits>, got {pair!r}")
            by_source.setdefault(source, set()).add(account)
        listed = frozenset(s.strip() for s in sources.split(",") if s.strip())
        unlisted = set(by_source) - listed
        if unlisted:
            raise ValueError(f"accounts given for sources that are not producers: {', '.join(sorted(unlisted))}")
        return cls(listed, {s: frozenset(a) for s, a in by_source.items()}, home)

    def allowed(self, source: str) -> frozenset[str]:
        return self.accounts.get(source) or frozenset({self.home})


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
    # Positions in the batch whose event is neither out nor quarantined (the bus or the queue
    # failed): only these come back, and a retry republishes nothing twice.
    unfinished: list[int] = field(default_factory=list)
    error: str | None = None


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


def triage(event: Any, producers: Producers) -> Republish | Quarantined:
    """Valid or not, and why. Never raises: every input ends one way or the other."""
    if not isinstance(event, Mapping):
        return Quarantined("not_an_event", "expected an EventBridge event (a JSON object)", event)
    source = str(event.get("source", ""))
    detail_type = str(event.get("detail-type", ""))
    account = str(event.get("account", ""))
    if is_republished(source):
        return Quarantined("already_republished", f"{source!r} is a republished source: it must not loop", event)
    if source not in producers.sources:
        known = ", ".join(sorted(producers.sources))
        return Quarantined("unknown_source", f"source {source!r} is not a producer of this hub ({known})", event)
    if account not in (allowed := producers.allowed(source)):
        return Quarantined(
            "foreign_account",
            f"source {source!r} comes only from account {', '.join(sorted(allowed))}, not from {account!r}",
            event,
        )
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
        detail={**valid, "metadata": {**valid["metadata"], "producerAccount": account}},
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
    producers: Producers,
    republisher: Republisher,
    quarantine: QuarantineQueue,
    republished: RepublishLog,
) -> Outcome:
    """Republish the batch's valid events once each, then quarantine the invalid ones.

    The republish goes first, in chunks of 10, each marked by event id once the bus took it. When a
    chunk fails (the republisher raises), it and everything after it is left ``unfinished``: the
    batch's retry republishes only what is still missing. Quarantine comes last, and a failure
    there leaves only the quarantined events unfinished.
    """
    outcome = Outcome()
    verdicts = [triage(event, producers) for event in events]
    fresh: dict[str, Republish] = {}
    for verdict in verdicts:
        if isinstance(verdict, Quarantined):
            outcome.quarantined.append(verdict)
        elif verdict.event_id not in fresh:  # the same event twice in one batch goes out once
            fresh[verdict.event_id] = verdict
        else:
            outcome.duplicates.append(verdict.event_id)
    already = republished.seen(fresh)
    outcome.duplicates.extend(sorted(already))
    pending = [r for event_id, r in fresh.items() if event_id not in already]
    failed: set[str] = set()
    for chunk in batched(pending, MAX_REPUBLISH_CHUNK, strict=False):
        if failed:
            failed.update(r.event_id for r in chunk)
            continue
        try:
            republisher.publish(chunk)
            republished.mark(r.event_id for r in chunk)
        except Exception as exc:  # noqa: BLE001 - whatever the adapter raised, this chunk on is retried
            outcome.error = f"republish failed: {exc}"
            failed.update(r.event_id for r in chunk)
            continue
        outcome.republished.extend(chunk)
    for bad in outcome.quarantined:
        log.warning("quarantined an event: %s", bad.message, extra={"reason": bad.reason})
    quarantine_failed = False
    if outcome.quarantined:
        try:
            quarantine.send(outcome.quarantined)
        except Exception as exc:  # noqa: BLE001 - the quarantined events come back, nothing else
            outcome.error = f"{outcome.error}; " if outcome.error else ""
            outcome.error += f"quarantine failed: {exc}"
            quarantine_failed = True
    outcome.unfinished = [
        position
        for position, verdict in enumerate(verdicts)
        if (isinstance(verdict, Quarantined) and quarantine_failed)
        or (isinstance(verdict, Republish) and verdict.event_id in failed)
    ]
    return outcome
