"""A burst like a busy client page: 40 images uploaded at once, each client polling its status
once a second. Every API answer is a 2xx, and every image ends in a truthful state (no time
limits asserted: speed lives in make bench / make load)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import pytest

from tests.photos import photo
from tools.client import ApiError, PipelineClient

IMAGES = 40
# Where a burst may end on the local engine: COMPLETE, or STALLED naming the responses that never
# came (under a burst on two cores the engine drops some EventBridge -> Lambda invocations, which
# AWS would retry; the sweeper then says so). A late response turns STALLED into COMPLETE, so
# STALLED is awaited a little longer.
TRUTHFUL = frozenset({"COMPLETE", "STALLED"})


def _photo(n: int) -> bytes:
    return photo((1200, 800), mark=n * 6)


class Recorder(PipelineClient):
    """The pipeline client, remembering the status of every API answer; like a well-behaved
    client, when throttled (429) it waits as long as the answer's Retry-After says, and asks again."""

    statuses: list[int]
    throttled: list[float | None]  # each 429's Retry-After

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        while True:
            try:
                status, payload = super()._request(method, path, body)
            except ApiError as error:
                with self.lock:
                    self.statuses.append(error.status)
                if error.status != HTTPStatus.TOO_MANY_REQUESTS:
                    raise
                with self.lock:
                    self.throttled.append(error.retry_after)
                time.sleep(error.retry_after or 1)
                continue
            with self.lock:
                self.statuses.append(status)
            return status, payload

    lock = threading.Lock()


@pytest.mark.burst
def test_forty_concurrent_uploads_with_clients_polling_every_second_get_no_5xx(client: PipelineClient) -> None:
    # A hang detector, not a speed limit: the engine, unlike API Gateway, does not cut a request at 29 s.
    recorder = Recorder(client.api_url, client.api_key, timeout=300)
    recorder.statuses, recorder.throttled = [], []

    def one(n: int) -> dict[str, Any]:
        created = recorder.create_image(f"burst-{n}.jpg", "image/jpeg")
        recorder.upload(created, _photo(n), f"burst-{n}.jpg", "image/jpeg")
        deadline = time.monotonic() + 600
        image: dict[str, Any] = {}
        while time.monotonic() < deadline:
            image = recorder.get_image(created["imageId"])
            if image["status"] == "COMPLETE" or (image["status"] == "STALLED" and time.monotonic() > deadline - 480):
                break
            time.sleep(1)
        return image

    with ThreadPoolExecutor(max_workers=IMAGES) as pool:
        finals = list(pool.map(one, range(IMAGES)))
    # The API's promise: a busy API may answer slowly or throttle (429, saying when to ask again),
    # never with a 5xx
    server_errors = [s for s in recorder.statuses if s >= 500]
    assert server_errors == [], f"{len(server_errors)} of {len(recorder.statuses)} API answers were 5xx"
    assert all(wait is not None and wait >= 1 for wait in recorder.throttled), recorder.throttled
    assert len(recorder.statuses) >= 3 * IMAGES  # create, and at least two polls each
    # The pipeline's: every image ends in a truthful state
    statuses = sorted(i["status"] for i in finals)
    untruthful = [
        {k: i.get(k) for k in ("imageId", "status", "reason", "missing", "deadline", "jobs")}
        for i in finals
        if i["status"] not in TRUTHFUL
    ]
    assert set(statuses) <= TRUTHFUL, untruthful
    assert all(i["missing"] for i in finals if i["status"] == "STALLED"), "a stall names what never came"
