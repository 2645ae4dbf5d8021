"""The ports the push and webhook code talks through. Their adapters live in
``image_pipeline.aws``; tests use fakes that subclass these and pass the same contract tests."""

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
HTTPS_PORT = 443

MAX_QUEUE_DELAY_SECONDS = 900  # SQS DelaySeconds' limit


# The values the webhook transport is given (image_pipeline.notify.callbacks makes them).
@dataclass(frozen=True)
class CallbackUrl:
    """A callback URL that passed the syntax rules (its addresses are checked separately)."""

    url: str
    scheme: str
    host: str  # lowercase, without brackets or a trailing dot
    port: int
    target: str  # the request target: path and query
    literal: Address | None  # the host, when it is an IP literal

    @property
    def authority(self) -> str:
        """The Host header: the host (bracketed if IPv6), and the port unless it is the default."""
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        default = HTTPS_PORT if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Destination:
    """Where one attempt goes: the URL, and the checked address to connect to."""

    callback: CallbackUrl
    address: Address


class NameNotResolved(LookupError):
    """The host name has no address (now: DNS may answer later)."""


class Resolver(ABC):
    @abstractmethod
    def resolve(self, host: str) -> list[Address]:
        """Every address of the host name now (A and AAAA), in the resolver's order.
        Raises :class:`NameNotResolved` when there is none."""


@dataclass(frozen=True)
class HttpResult:
    """How one POST ended: a status code, or no response at all (and why)."""

    status: int | None
    error: str | None = None  # no response: refused, timed out, TLS failed...
    retry_after: int | None = None  # seconds, from a Retry-After header (429, 503)


class WebhookTransport(ABC):
    @abstractmethod
    def post(self, destination: Destination, headers: Mapping[str, str], body: bytes, *, timeout: float) -> HttpResult:
        """POST ``body`` to the destination's URL, connecting to ``destination.address`` and to
        nothing else (TLS still checked against the host name); never follows a redirect. A
        network failure is a result (``status`` None), not an exception."""


class SecretVersions(ABC):
    @abstractmethod
    def versions(self) -> list[str]:
        """The secret's current value, then its previous one while it has one (rotation)."""


class WatchEndpoint(ABC):
    """Where the push stack's WebSocket stage is, for the app's API (it is deployed after the app)."""

    @abstractmethod
    def url(self) -> str | None:
        """The stage's URL (``wss://<apiId>.execute-api.<region>.<suffix>/<stage>``), or None when
        no push stack is deployed beside the app."""


@dataclass(frozen=True, order=True)
class Watcher:
    """A WebSocket connection watching an image, and when ``$connect`` admitted it (None: not
    recorded, as for a registration written before this was)."""

    connection_id: str
    admitted_at: datetime | None = None


class Watchers(ABC):
    """The WebSocket connections watching each image, and how far each image's pushes got."""

    @abstractmethod
    def add(self, image_id: str, connection_id: str, *, admitted_at: datetime, expires_at: datetime) -> None:
        """Register a connection, admitted at ``admitted_at``, as a watcher of the image until
        ``expires_at`` (then it lapses)."""

    @abstractmethod
    def remove(self, connection_id: str) -> str | None:
        """Forget a connection; the image it watched, or None if it was not known."""

    @abstractmethod
    def watching(self, image_id: str) -> list[Watcher]:
        """The connections watching the image now (strongly consistent), by connection id."""

    @abstractmethod
    def advance(self, image_id: str, stream: str, version: int, event_id: str) -> bool:
        """Record that ``version`` of a stream of the image (its own statuses, or one edit's) is
        being pushed. False when a version at least as new was pushed already, unless it is this
        very event again (a retry may push it again)."""


class Pusher(ABC):
    @abstractmethod
    def push(self, connection_id: str, message: bytes) -> bool:
        """Send one message on the connection; False when the connection is gone (410)."""


class Deliveries(ABC):
    """Who may make which attempt of a webhook delivery, so one status gets one successful POST."""

    @abstractmethod
    def claim(self, delivery_id: str, attempt: int, *, now: datetime, lease_until: datetime) -> bool:
        """Take attempt ``attempt`` (until ``lease_until``). False when the delivery has ended, or
        this attempt (or a later one) was already made or is being made under an unexpired lease."""

    @abstractmethod
    def settle(self, delivery_id: str, attempt: int, *, outcome: str | None) -> None:
        """The claimed attempt is over; with an ``outcome``, the whole delivery is (no more claims)."""


class DeliveryQueue(ABC):
    """The queue webhook attempts wait in between tries, and where they end when all failed."""

    @abstractmethod
    def later(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        """Put the message back on the queue, invisible for ``delay_seconds`` (0-900)."""

    @abstractmethod
    def dead_letter(self, message: Mapping[str, Any]) -> None:
        """Park a delivery that gave up (the dead-letter queue's alarm tells an operator)."""
