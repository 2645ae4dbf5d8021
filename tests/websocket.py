"""A minimal WebSocket client (RFC 6455, text messages) for the tests: enough to watch an image
over the stack's WebSocket API without a third-party package. Browsers are tested with Chromium."""

import base64
import contextlib
import os
import socket
import struct
from urllib.parse import urlsplit

_TEXT, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0


class HandshakeRefused(ConnectionError):
    """The server answered the upgrade with an HTTP status instead of 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"WebSocket handshake refused: HTTP {status} {body[:200]!r}")
        self.status = status


class Closed(ConnectionError):
    """The server closed the connection."""


class WebSocket:
    def __init__(self, url: str, *, timeout: float = 10.0, origin: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError("this test client speaks ws:// only (the local engine)")
        port = parts.port or 80
        self._sock = socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout)
        self._buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *([f"Origin: {origin}"] if origin else []),
        ]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            self._sock.settimeout(1)
            try:
                body = self._buffer + self._sock.recv(4096)
            except OSError:
                body = self._buffer
            self._sock.close()
            raise HandshakeRefused(status, body)

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self._sock.recv(4096)
            if not chunk:
                raise Closed("connection closed during the handshake")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _frame(self) -> tuple[int, bool, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if second & 0x80 else b""
        payload = self._read(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return first & 0x0F, bool(first & 0x80), payload

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        self._sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self, timeout: float | None = None) -> str:
        """The next text message; raises TimeoutError, or Closed when the server closes."""
        if timeout is not None:
            self._sock.settimeout(timeout)
        message = b""
        while True:
            opcode, final, payload = self._frame()
            if opcode == _PING:
                self._send(_PONG, payload)
                continue
            if opcode == _CLOSE:
                raise Closed(f"closed by the server: {payload!r}")
            if opcode in (_TEXT, _CONTINUATION):
                message += payload
                if final:
                    return message.decode()

    def send(self, text: str) -> None:
        self._send(_TEXT, text.encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send(_CLOSE, struct.pack("!H", 1000))
        self._sock.close()
