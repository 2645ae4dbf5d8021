"""In-memory fakes of the push and webhook ports (image_pipeline.notify.ports). They subclass the
real ports and pass the same contract tests as the adapters
(tests/unit/test_notify_ports_contract.py), so they cannot drift."""

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from image_pipeline.aws.rest.deps import Push
from image_pipeline.notify.callbacks import CallbackChecker, CallbackPolicy
from image_pipeline.notify.ports import (
    MAX_QUEUE_DELAY_SECONDS,
    Address,
    Deliveries,
    DeliveryQueue,
    Destination,
    HttpResult,
    NameNotResolved,
    Pusher,
    Resolver,
    SecretVersions,
    WatchEndpoint,
    Watcher,
    Watchers,
    WebhookTransport,
)
from image_pipeline.notify.watch import WatchLinks


class FakeResolver(Resolver):
    """Answers from a table; a host may answer differently on each lookup (DNS rebinding)."""

    def __init__(self, table: Mapping[str, Sequence[str]] | None = None) -> None:
        self.table: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []
        for host, addresses in (table or {}).items():
            self.answer(host, addresses)

    def answer(self, host: str, *answers: Sequence[str]) -> None:
        self.table[host] = [list(a) for a in answers]

    def resolve(self, host: str) -> list[Address]:
        self.lookups.append(host)
        if ip := _literal(host):
            return [ip]
        answers = self.table.get(host)
        if not answers or not answers[0]:
            raise NameNotResolved(f"{host}: no such name")
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ipaddress.ip_address(a) for a in current]


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass
class Posted:
    destination: Destination
    headers: dict[str, str]
    body: bytes
    timeout: float


class RecordingTransport(WebhookTransport):
    """Answers each POST with the next scripted result (the last one repeats)."""

    def __init__(self, *results: HttpResult | int) -> None:
        self.results = [r if isinstance(r, HttpResult) else HttpResult(status=r) for r in results] or [HttpResult(200)]
        self.posted: list[Posted] = []

    def post(self, destination: Destination, headers: Mapping[str, str], body: bytes, *, timeout: float) -> HttpResult:
        self.posted.append(Posted(destination, dict(headers), body, timeout))
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


class StaticSecret(SecretVersions):
    def __init__(self, *values: str) -> None:
        self.values = list(dict.fromkeys(values))

    def versions(self) -> list[str]:
        return list(self.values)


class StaticWatchEndpoint(WatchEndpoint):
    """A push stack's watch URL, or None (no push stack); ``reads`` counts the lookups."""

    def __init__(self, url: str | None = None) -> None:
        self.value = url
        self.reads = 0

    def url(self) -> str | None:
        self.reads += 1
        return self.value


class InMemoryWatchers(Watchers):
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.connections: dict[str, tuple[str, Watcher, datetime]] = {}  # connection -> (image, watcher, expires)
        self.pushed: dict[tuple[str, str], tuple[int, str]] = {}

    def add(self, image_id: str, connection_id: str, *, admitted_at: datetime, expires_at: datetime) -> None:
        self.connections[connection_id] = (image_id, Watcher(connection_id, admitted_at), expires_at)

    def remove(self, connection_id: str) -> str | None:
        found = self.connections.pop(connection_id, None)
        return found[0] if found else None

    def watching(self, image_id: str) -> list[Watcher]:
        now = self.clock()
        return sorted(w for image, w, expires in self.connections.values() if image == image_id and expires > now)

    def advance(self, image_id: str, stream: str, version: int, event_id: str) -> bool:
        last = self.pushed.get((image_id, stream))
        if last is not None and (last[0] > version or (last[0] == version and last[1] != event_id)):
            return False
        self.pushed[image_id, stream] = (version, event_id)
        return True


def connection_ids(watchers: list[Watcher]) -> list[str]:
    return [w.connection_id for w in watchers]


class RecordingPusher(Pusher):
    """``gone``: connections that answer 410 to every push; ``opening``: connections that answer
    410 to their first N pushes (API Gateway, until the handshake has ended)."""

    def __init__(self, gone: set[str] | None = None, opening: dict[str, int] | None = None) -> None:
        self.gone = set(gone or ())
        self.opening = dict(opening or {})
        self.sent: list[tuple[str, bytes]] = []
        self.refused: list[str] = []

    def push(self, connection_id: str, message: bytes) -> bool:
        if connection_id in self.gone or self.opening.get(connection_id, 0) > 0:
            self.opening[connection_id] = self.opening.get(connection_id, 0) - 1
            self.refused.append(connection_id)
            return False
        self.sent.append((connection_id, message))
        return True

    def to(self, connection_id: str) -> list[bytes]:
        return [m for c, m in self.sent if c == connection_id]


@dataclass
class _Delivery:
    attempt: int
    lease_until: datetime
    settled: bool = False
    outcome: str | None = None


class InMemoryDeliveries(Deliveries):
    def __init__(self) -> None:
        self.deliveries: dict[str, _Delivery] = {}

    def claim(self, delivery_id: str, attempt: int, *, now: datetime, lease_until: datetime) -> bool:
        found = self.deliveries.get(delivery_id)
        if found is not None:
            if found.outcome is not None or found.attempt > attempt:
                return False
            if found.attempt == attempt and (found.settled or found.lease_until >= now):
                return False
        self.deliveries[delivery_id] = _Delivery(attempt=attempt, lease_until=lease_until)
        return True

    def settle(self, delivery_id: str, attempt: int, *, outcome: str | None) -> None:
        found = self.deliveries.get(delivery_id)
        if found is None or found.attempt != attempt:
            return
        found.settled = True
        if outcome:
            found.outcome = outcome


@dataclass
class RecordingDeliveryQueue(DeliveryQueue):
    queued: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)

    def later(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        if not 0 <= delay_seconds <= MAX_QUEUE_DELAY_SECONDS:
            raise ValueError(f"an SQS delay is 0-{MAX_QUEUE_DELAY_SECONDS} s, not {delay_seconds}")
        self.queued.append((dict(message), delay_seconds))

    def dead_letter(self, message: Mapping[str, Any]) -> None:
        self.dead.append(dict(message))


WATCH_KEY = "k" * 64  # a watch token key as WatchTokenSecret generates it (64 characters)


def api_push(watch_url: str | None = None, resolver: Resolver | None = None, *, allow_loopback: bool = False) -> Push:
    """What the API is given of the push: a push stack's watch URL (None: no push stack), and a
    resolver for callback URLs (none given: every host name is unknown)."""
    watch = WatchLinks(StaticSecret(WATCH_KEY), StaticWatchEndpoint(watch_url))
    return Push(CallbackChecker(CallbackPolicy(allow_loopback=allow_loopback), resolver or FakeResolver()), watch)
