"""Standard Webhooks signatures (standardwebhooks.com, specification 1.0.0; symmetric, ``v1``).

Every webhook carries three headers:

- ``webhook-id``: the id of the event it reports, the same on every retry, so a receiver can
  drop a delivery it has already processed;
- ``webhook-timestamp``: when this attempt was made, in whole seconds since the epoch;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per secret
  in use, space separated (two while a secret is being rotated: receivers accept any that matches).

Secrets are 24 to 64 random bytes, shown base64 encoded with the ``whsec_`` prefix; the prefix is
optional on input, as in the specification's reference libraries.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
MIN_SECRET_BYTES = 24  # the specification's minimum (192 bits)
MAX_SECRET_BYTES = 64  # ... and maximum (512 bits)
TOLERANCE_SECONDS = 5 * 60  # how far a timestamp may be from the receiver's clock (replays)
VERSION = "v1"
ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"
# An id must not hold the separator of the signed content ("."), nor anything a header would mangle.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_:@+=/-]{1,400}$")


class InvalidSecret(ValueError):
    """Not a usable signing secret (not base64, or too short or too long)."""


class VerificationFailed(ValueError):
    """The webhook is not authentic, or not fresh: the receiver must reject it."""


@dataclass(frozen=True)
class WebhookSecret:
    key: bytes = field(repr=False)  # never in a log line or an error

    def __post_init__(self) -> None:
        if not MIN_SECRET_BYTES <= len(self.key) <= MAX_SECRET_BYTES:
            limits = f"{MIN_SECRET_BYTES}-{MAX_SECRET_BYTES}"
            raise InvalidSecret(f"a signing secret has {limits} bytes, not {len(self.key)}")

    @classmethod
    def parse(cls, text: str) -> "WebhookSecret":
        """``whsec_<base64>`` or the bare base64 (padding optional)."""
        body = text.strip().removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSecret("a signing secret is base64 (optionally after whsec_)") from exc
        return cls(key)

    def serialized(self) -> str:
        return SECRET_PREFIX + base64.b64encode(self.key).decode()


def check_id(message_id: str) -> str:
    if not _SAFE_ID.match(message_id):
        raise ValueError(f"a webhook id is 1-400 of A-Z a-z 0-9 _:@+=/- (no '.'): {message_id!r}")
    return message_id


def _mac(secret: WebhookSecret, message_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(secret.key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def signature(secret: WebhookSecret, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of the id, the timestamp and the exact body bytes sent."""
    return f"{VERSION},{base64.b64encode(_mac(secret, check_id(message_id), timestamp, body)).decode()}"


def signed_headers(secrets: Sequence[WebhookSecret], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three webhook headers, signed with every secret given (current first)."""
    if not secrets:
        raise InvalidSecret("no signing secret")
    return {
        ID_HEADER: check_id(message_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


def _timestamp(value: str, now: int, tolerance: int) -> int:
    if not value.isascii() or not value.isdigit():
        raise VerificationFailed(f"{TIMESTAMP_HEADER} is not whole seconds since the epoch")
    timestamp = int(value)
    if timestamp < now - tolerance:
        raise VerificationFailed(f"{TIMESTAMP_HEADER} is more than {tolerance} s old: a replay, or a slow clock")
    if timestamp > now + tolerance:
        raise VerificationFailed(f"{TIMESTAMP_HEADER} is more than {tolerance} s ahead of this clock")
    return timestamp


def verify(
    secrets: Sequence[WebhookSecret],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a received webhook; return its id (the key to deduplicate on).

    Raises :class:`VerificationFailed` when a header is missing, the timestamp is further than
    ``tolerance`` seconds from ``now`` (either way), or no ``v1`` signature matches any secret.
    Signatures of other versions are skipped, as the specification asks.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id, sent_at, signatures = (lowered.get(h) for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not (message_id and sent_at and signatures):
        raise VerificationFailed(f"a webhook needs the {ID_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers")
    timestamp = _timestamp(sent_at, now, tolerance)
    expected = [_mac(secret, message_id, timestamp, body) for secret in secrets]
    for candidate in signatures.split(" "):
        version, _, encoded = candidate.partition(",")
        if version != VERSION:
            continue
        try:
            received = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(received, mac) for mac in expected):
            return message_id
    raise VerificationFailed("no signature matches: wrong secret, or the body was changed")
