"""Watching an image over a WebSocket: the signed token a watch URL carries, and the URL itself.

Browsers cannot set headers on a WebSocket, so ``POST /images`` hands back a URL whose query
string carries a short-lived token: ``<imageId>.<expires>.<mac>``, the MAC being HMAC-SHA256 with
the stack's watch key (a Secrets Manager secret of its own, never the webhook secret, which
receivers hold). ``$connect`` accepts a token only before it expires and only for the image it
names: the connection then hears that image's status changes (and its edits').
"""

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.keys import is_image_id
from image_pipeline.notify.ports import SecretVersions, WatchEndpoint, Watchers

log = logging.getLogger(__name__)

TOKEN_TTL = timedelta(minutes=15)  # time to open the socket: the upload URL lives 10 minutes
CONNECTION_LIFETIME = timedelta(hours=2)  # API Gateway closes a WebSocket connection after 2 hours
MIN_KEY_BYTES = 32
_DOMAIN = b"image-pipeline watch v1"  # separates these MACs from any other use of a key


class InvalidWatchToken(ValueError):
    """The token is malformed, expired, or not signed by this stack."""


def _mac(key: bytes, image_id: str, expires: int) -> str:
    digest = hmac.new(key, _DOMAIN + f":{image_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def watch_token(image_id: str, key: bytes, expires_at: datetime) -> str:
    if not is_image_id(image_id):
        raise ValueError(f"not an image id: {image_id!r}")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a watch key has at least {MIN_KEY_BYTES} bytes")
    expires = int(expires_at.timestamp())
    return f"{image_id}.{expires}.{_mac(key, image_id, expires)}"


def check_watch_token(token: str, keys: Sequence[bytes], now: datetime) -> str:
    """The image id the token grants, if it is well formed, signed with one of ``keys`` (the
    current key, then the previous one during a rotation) and not expired at ``now``.

    Raises :class:`InvalidWatchToken` with a reason that is safe to log (never the key).
    """
    image_id, expires_text, mac = [*token.split("."), "", ""][:3]
    if token.count(".") != 2 or not is_image_id(image_id) or not expires_text.isdigit() or not mac:
        raise InvalidWatchToken("a watch token is <imageId>.<expires>.<signature>")
    expires = int(expires_text)
    if not any(hmac.compare_digest(mac, _mac(key, image_id, expires)) for key in keys):
        raise InvalidWatchToken("the watch token's signature is not this stack's")
    if now.timestamp() >= expires:
        raise InvalidWatchToken("the watch token has expired: ask for a new one")
    return image_id


@dataclass(frozen=True)
class WatchLink:
    url: str
    expires_at: datetime

    def to_dict(self) -> dict[str, str]:
        """The ``watch`` object of ``POST /images``: ``{"url": "wss://...?token=...", "expiresAt"}``."""
        return {"url": self.url, "expiresAt": self.expires_at.isoformat()}


def watch_link(image_id: str, *, key: bytes, endpoint: str, now: datetime, ttl: timedelta = TOKEN_TTL) -> WatchLink:
    """The URL a client opens to watch the image (``endpoint``: the WebSocket stage's URL)."""
    expires_at = (now + ttl).astimezone(UTC).replace(microsecond=0)
    token = watch_token(image_id, key, expires_at)
    return WatchLink(url=f"{endpoint}?token={quote(token, safe='')}", expires_at=expires_at)


@dataclass(frozen=True)
class WatchLinks:
    """The ``watch`` object ``POST /images`` (and ``POST /images/{id}/edits``) answer with, when a
    push stack is deployed beside the app (``endpoint``: where its WebSocket stage is)."""

    keys: SecretVersions  # the watch key: tokens are signed with its current value
    endpoint: WatchEndpoint
    engine_url: str | None = None  # the local engine's AWS_ENDPOINT_URL (its path form), None on AWS

    def for_image(self, image_id: str, now: datetime, ttl: timedelta = TOKEN_TTL) -> WatchLink | None:
        """A URL to watch the image on; None without a push stack (or with a stage URL that is
        not one, which is logged: uploads go on without a watch)."""
        stage = self.endpoint.url()
        if stage is None:
            return None
        try:
            endpoint = client_endpoint(stage, self.engine_url)
        except ValueError:
            log.exception("the push stack's watch URL is unusable: no watch object")
            return None
        key = self.keys.versions()[0].encode()
        return watch_link(image_id, key=key, endpoint=endpoint, now=now, ttl=ttl)


def _api_and_stage(endpoint: str) -> tuple[str, str, str]:
    """``wss://<apiId>.execute-api.<region>.<suffix>/<stage>`` -> (apiId, host, stage)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    api_id, _, rest = host.partition(".")
    stage = parts.path.strip("/")
    if not rest.startswith("execute-api.") or not api_id or not stage or "/" in stage:
        raise ValueError(f"not a WebSocket stage URL (wss://<apiId>.execute-api.<region>.../<stage>): {endpoint!r}")
    return api_id, host, stage


def client_endpoint(endpoint: str, engine_url: str | None = None) -> str:
    """The URL clients connect to: the stage's AWS URL, or on the local engine (``engine_url``,
    its ``AWS_ENDPOINT_URL``) the engine's path form ``ws://127.0.0.1:<port>/_aws/execute-api/<apiId>/<stage>``."""
    api_id, host, stage = _api_and_stage(endpoint)
    if not engine_url:
        return f"wss://{host}/{stage}"
    engine = urlsplit(engine_url)
    scheme = "wss" if engine.scheme == "https" else "ws"
    return f"{scheme}://{engine.netloc}/_aws/execute-api/{api_id}/{stage}"


def management_endpoint(endpoint: str, engine_url: str | None = None) -> str:
    """The @connections API's endpoint for the same stage (https; the engine's path form locally)."""
    api_id, host, stage = _api_and_stage(endpoint)
    if not engine_url:
        return f"https://{host}/{stage}"
    return f"{engine_url.rstrip('/')}/_aws/execute-api/{api_id}/{stage}"


@dataclass(frozen=True)
class WatchRequest:
    """A WebSocket API event (API Gateway's proxy shape): its route, connection and token."""

    route: str  # "$connect", "$disconnect", or a message route
    connection_id: str
    token: str | None = None

    @classmethod
    def from_event(cls, event: object) -> "WatchRequest":
        context = event.get("requestContext") if isinstance(event, dict) else None
        route = context.get("routeKey") if isinstance(context, dict) else None
        connection = context.get("connectionId") if isinstance(context, dict) else None
        if not isinstance(route, str) or not isinstance(connection, str) or not connection:
            raise UnsupportedEvent("WatchFunction", "API Gateway WebSocket events ($connect, $disconnect)", event)
        query = event.get("queryStringParameters") if isinstance(event, dict) else None
        token = query.get("token") if isinstance(query, dict) else None
        return cls(route=route, connection_id=connection, token=token if isinstance(token, str) else None)


def connect(request: WatchRequest, *, keys: Sequence[bytes], watchers: Watchers, now: datetime) -> str:
    """Admit a connection that shows a valid token: it watches the token's image from now on.
    Raises :class:`InvalidWatchToken` (the connection is refused)."""
    image_id = check_watch_token(request.token or "", keys, now)
    watchers.add(image_id, request.connection_id, admitted_at=now, expires_at=now + CONNECTION_LIFETIME)
    return image_id
