"""Network adapters for webhooks: DNS resolution, and an HTTP client pinned to a checked address.

Not AWS services, but adapters all the same: the domain code sees only the ports.
"""

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Mapping

from image_pipeline.notify.ports import Address, Destination, HttpResult, NameNotResolved, Resolver, WebhookTransport

MAX_RESPONSE_BYTES = 64 * 1024  # a receiver's answer is read (to free the connection) and dropped


class SocketResolver(Resolver):
    """The system resolver (Lambda's: the VPC's or AWS's DNS)."""

    def resolve(self, host: str) -> list[Address]:
        try:
            found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise NameNotResolved(f"{host}: {exc}") from exc
        addresses: list[Address] = []
        for _family, _type, _proto, _name, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise NameNotResolved(f"{host} has no address")
        return addresses


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address, while TLS (SNI, certificate) and Host name the host."""

    def __init__(self, destination: Destination, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(destination.callback.host, destination.callback.port, timeout=timeout, context=context)
        self._address = str(destination.address)
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP (loopback receivers on a local stack only), to the checked address."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.callback.host, destination.callback.port, timeout=timeout)
        self._address = str(destination.address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def _retry_after(value: str | None) -> int | None:
    """Retry-After in seconds (its HTTP-date form is ignored: the backoff applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class HttpTransport(WebhookTransport):
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._context = context or ssl.create_default_context()

    def post(self, destination: Destination, headers: Mapping[str, str], body: bytes, *, timeout: float) -> HttpResult:
        connection: http.client.HTTPConnection
        if destination.callback.scheme == "https":
            connection = _PinnedHTTPSConnection(destination, timeout, self._context)
        else:
            connection = _PinnedHTTPConnection(destination, timeout)
        try:
            connection.putrequest("POST", destination.callback.target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", destination.callback.authority)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            return HttpResult(status=response.status, retry_after=_retry_after(response.getheader("Retry-After")))
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, TLS...
            return HttpResult(status=None, error=f"{type(exc).__name__}: {exc}"[:500])
        finally:
            connection.close()
