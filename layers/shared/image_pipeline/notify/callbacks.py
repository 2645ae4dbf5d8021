"""Where the stack may send a webhook: the callback URL policy (no SSRF into the VPC or the
instance metadata endpoint).

A ``callbackUrl`` is checked when it is given (``POST /images``) and again before every attempt,
and the attempt connects to the very address that was checked (no second lookup that DNS
rebinding could answer differently). The rules:

- ``https`` only. ``http`` only to a loopback IP literal (``127.0.0.1``, ``[::1]``), and only when
  the stack allows loopback callbacks (the local engine's ``AllowLoopbackCallbacks``; always off
  on AWS). Loopback is otherwise refused like any private address.
- No user info (``user:password@``): it would be sent nowhere and hides the real host. No
  fragment, no whitespace, control characters or backslashes, nothing but ASCII (IDNs in their
  ``xn--`` form), at most 2,048 characters.
- The host is a fully qualified DNS name (at least one dot) or a canonical IP literal: IPv4 as
  four decimal parts without leading zeros, IPv6 in brackets without a zone. A numeric host in
  any other form (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) is refused: resolvers,
  proxies and browsers read those differently.
- The port is 443 (the default) or 1024-65535: the other privileged ports belong to other
  protocols (SMTP, SSH, ...), which a POST must not be aimed at.
- Every address the host resolves to must be public: not unspecified, loopback, link-local
  (169.254.169.254, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7 incl. the IPv6
  metadata endpoint fd00:ec2::254), shared (100.64/10), multicast, reserved, documentation or
  otherwise special; an IPv6 address that carries an IPv4 one (IPv4-mapped, -compatible, NAT64,
  6to4, Teredo) is judged by the IPv4 address inside. One bad address refuses the host.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from image_pipeline.notify.ports import HTTPS_PORT, Address, CallbackUrl, Destination, NameNotResolved, Resolver
from image_pipeline.problems import FieldProblem, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_URL_LENGTH = 2048
FIRST_UNPRIVILEGED_PORT = 1024
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# Special ranges Python's ipaddress still calls global (documentation since 2024, the old 6to4 relay).
_SPECIAL = (ipaddress.ip_network("3fff::/20"), ipaddress.ip_network("192.88.99.0/24"))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class CallbackRefused(ValueError):
    """The URL may not be called back; ``reason`` is a stable code, the message a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CallbackPolicy:
    allow_loopback: bool = False  # the local engine only: http://127.0.0.1:<port> receivers


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _category(address: Address) -> str | None:  # noqa: PLR0911 - one return per kind of address
    """What makes the address unfit for a callback, or None for a public unicast address."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"):
        return "shared (carrier-grade NAT)"
    if address.is_reserved or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global or any(address in network for network in _SPECIAL):
        return "special-purpose"
    return None


def address_refusal(address: Address, policy: CallbackPolicy) -> CallbackRefused | None:
    """Why the stack may not connect to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)) is not None:
        # judged by the IPv4 address inside, where the packets end up (loopback never allowed here)
        kind = _category(inner)
        if kind is None:
            return None
        return CallbackRefused(
            "not_public", f"{address} carries {inner}, a {kind} address: callbacks go to public addresses only"
        )
    kind = _category(address)
    if kind is None or (kind == "loopback" and policy.allow_loopback):
        return None
    return CallbackRefused("not_public", f"{address} is a {kind} address: callbacks go to public addresses only")


def _literal(host: str, *, bracketed: bool) -> Address | None:
    """The host as an IP literal, None for a DNS name; refuses numeric hosts in odd forms."""
    if bracketed:
        if "%" in host:
            raise CallbackRefused("bad_host", "an IPv6 literal may not carry a zone (%...)")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise CallbackRefused("bad_host", f"[{host}] is not an IPv6 address") from exc
    labels = host.split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is None or str(address) != host:
        raise CallbackRefused(
            "bad_host", f"{host!r} is a numeric host in a non-standard form: write IPv4 as four decimal parts"
        )
    return address


def _check_name(host: str) -> None:
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise CallbackRefused(
            "bad_host",
            f"{host!r} is not a fully qualified host name (letters, digits and hyphens, with at least one dot)",
        )


def _port(scheme: str, given: int | None) -> int:
    port = given if given is not None else (HTTPS_PORT if scheme == "https" else 80)
    if port != HTTPS_PORT and not FIRST_UNPRIVILEGED_PORT <= port <= 65535:
        raise CallbackRefused("bad_port", f"port {port}: callbacks use 443 or a port from 1024 to 65535")
    return port


def _printable_ascii(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused("too_long", f"a callback URL has at most {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ch <= " " or ch in "\\\x7f" for ch in url):
        raise CallbackRefused(
            "bad_characters", "a callback URL is printable ASCII: no spaces, controls or backslashes (percent-encode)"
        )


def parse_callback_url(url: str, policy: CallbackPolicy) -> CallbackUrl:
    """Check a callback URL's form (not its addresses: see :func:`destination`)."""
    _printable_ascii(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. brackets around something that is not an IPv6 address
        raise CallbackRefused("bad_host", f"the host is not valid: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"} or not url[len(scheme) :].startswith("://"):
        raise CallbackRefused("bad_scheme", "a callback URL is an absolute https:// URL")
    if "@" in parts.netloc:
        raise CallbackRefused("userinfo", "a callback URL may not carry user info (user:password@)")
    if parts.fragment or url.endswith("#"):
        raise CallbackRefused("fragment", "a callback URL has no #fragment (it is never sent)")
    try:
        given_port = parts.port
    except ValueError as exc:
        raise CallbackRefused("bad_port", "the port is not a number from 1 to 65535") from exc
    host = (parts.hostname or "").removesuffix(".")
    if not host:
        raise CallbackRefused("bad_host", "a callback URL names a host")
    literal = _literal(host, bracketed=parts.netloc.startswith("["))
    if literal is None:
        _check_name(host)
    if scheme == "http" and not (policy.allow_loopback and literal is not None and literal.is_loopback):
        raise CallbackRefused("bad_scheme", "callbacks use https (http only to 127.0.0.1 on a local stack)")
    port = _port(scheme, given_port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CallbackUrl(url=url, scheme=scheme, host=host, port=port, target=target, literal=literal)


def destination(callback: CallbackUrl, policy: CallbackPolicy, resolver: Resolver) -> Destination:
    """Resolve the host now and pick the address to connect to (IPv4 first).

    Raises :class:`CallbackRefused` when any address is not public, and
    :class:`~image_pipeline.notify.ports.NameNotResolved` when the name does not resolve (now).
    """
    addresses: Sequence[Address] = [callback.literal] if callback.literal else resolver.resolve(callback.host)
    if not addresses:
        raise NameNotResolved(f"{callback.host} has no address")
    for address in addresses:
        if (refusal := address_refusal(address, policy)) is not None:
            raise refusal
    ordered = sorted(addresses, key=lambda a: a.version)  # Lambda has IPv4 egress; IPv6 only in some VPCs
    return Destination(callback=callback, address=ordered[0])


def check_callback_url(url: str, policy: CallbackPolicy, resolver: Resolver) -> str:
    """What ``POST /images`` calls on a ``callbackUrl``: the URL, or :class:`CallbackRefused`
    (reason ``unresolvable`` when its host has no address now)."""
    callback = parse_callback_url(url, policy)
    try:
        destination(callback, policy, resolver)
    except NameNotResolved as exc:
        raise CallbackRefused("unresolvable", f"{callback.host} does not resolve: {exc}") from exc
    return url


@dataclass(frozen=True)
class CallbackChecker:
    """What ``POST /images`` does with a ``callbackUrl``: keeps it if the stack may call it back,
    else refuses the request naming the field (:class:`~image_pipeline.problems.InvalidInput`)."""

    policy: CallbackPolicy
    resolver: Resolver

    def check(self, url: str) -> str:
        try:
            return check_callback_url(url, self.policy, self.resolver)
        except CallbackRefused as exc:
            raise InvalidInput([FieldProblem("callbackUrl", str(exc))]) from exc
