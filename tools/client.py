"""A small client of the image pipeline's REST API (what `make run` and the tests drive)."""

import json
import mimetypes
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from image_pipeline.catalogue import SETTLED

# where a client stops polling, from the catalogue (the API's ?wait stops there too)
SETTLED_STATUSES = frozenset(str(status) for status in SETTLED)


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any, url: str, retry_after: float | None = None) -> None:
        self.status = status
        self.body = body
        self.url = url
        self.retry_after = retry_after  # seconds, from a 429's Retry-After header
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status} from {url}: {message}")


def content_type_for(filename: str) -> str:
    """The content type a browser would declare for this file name."""
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def _multipart(fields: dict[str, str], filename: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    safe_name = urllib.parse.quote(filename)
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class PipelineClient:
    api_url: str
    api_key: str
    timeout: float = 30

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"{self.api_url.rstrip('/')}/{path.lstrip('/')}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("x-api-key", self.api_key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            retry_after = error.headers.get("Retry-After")
            wait = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise ApiError(error.code, payload, url, wait) from None

    def create_image(
        self, filename: str, content_type: str, size: int | None = None, callback_url: str | None = None
    ) -> dict[str, Any]:
        """POST /images; with ``size``, a file the upload would refuse is refused right here; with
        ``callback_url``, the image's final status is POSTed there, signed. The answer says where
        to upload and (with a push stack) where to watch the image."""
        asked: dict[str, Any] = {"filename": filename, "contentType": content_type}
        if size is not None:
            asked["size"] = size
        if callback_url is not None:
            asked["callbackUrl"] = callback_url
        _, body = self._request("POST", "images", asked)
        return dict(body)

    def upload(self, created: dict[str, Any], data: bytes, filename: str, content_type: str) -> None:
        """Send the file with the presigned POST, as a browser form would."""
        upload = created["upload"]
        body, form_type = _multipart(upload["fields"], filename, content_type, data)
        request = urllib.request.Request(upload["url"], data=body, method="POST")
        request.add_header("Content-Type", form_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            # S3 explains itself in XML: keep just its message ("Your proposed upload ...").
            text = error.read().decode(errors="replace")
            found = re.search(r"<Message>(.*?)</Message>", text, re.DOTALL)
            message = f"S3 refused the upload: {found[1]}" if found else text[:300]
            raise ApiError(error.code, {"message": message}, upload["url"]) from None

    def get_image(self, image_id: str, wait: int | None = None) -> dict[str, Any]:
        """GET /images/{id}; with ``wait``, the answer comes once the image is settled (or after
        ``wait`` seconds, as it then is)."""
        return dict(self._request("GET", f"images/{image_id}" + (f"?wait={wait}" if wait else ""))[1])

    def list_images(self, **query: str) -> dict[str, Any]:
        """GET /images (newest first; ``key=`` finds the image of an object key)."""
        path = "images" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return dict(self._request("GET", path)[1])

    def request_edit(self, image_id: str, edit: dict[str, Any]) -> dict[str, Any]:
        """POST /images/{id}/edits: 202 with editId and statusUrl (the same edit when asked again)."""
        return dict(self._request("POST", f"images/{image_id}/edits", edit)[1])

    def get_edit(self, image_id: str, edit_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"images/{image_id}/edits/{edit_id}")[1])

    def wait_for_edit(self, image_id: str, edit_id: str, timeout: float = 120, interval: float = 0.5) -> dict[str, Any]:
        """Poll the edit until it is no longer RUNNING (or the timeout: its last state)."""
        deadline = time.monotonic() + timeout
        while True:
            edit = self.get_edit(image_id, edit_id)
            if edit["status"] != "RUNNING" or time.monotonic() >= deadline:
                return edit
            time.sleep(interval)

    def get_trace(self, image_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"images/{image_id}/trace")[1])

    def wait_until_final(self, image_id: str, timeout: float = 120, interval: float = 0.25) -> dict[str, Any]:
        """Poll the image until it reaches a final status (or the timeout: its last state)."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.get_image(image_id)
            if image["status"] in SETTLED_STATUSES or time.monotonic() >= deadline:
                return image
            time.sleep(interval)
