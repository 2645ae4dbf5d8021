"""Past the usage plan's rate (RateLimit per second, BurstLimit at once), API Gateway itself
answers 429 in the API's one error shape, with Retry-After saying when to ask again (and readable
by a browser page: CORS exposes it)."""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests import template
from tools.client import PipelineClient

THROTTLE = template.load()["Resources"]["ImagesApi"]["Properties"]["Auth"]["UsagePlan"]["Throttle"]
BURST, RATE = int(THROTTLE["BurstLimit"]), float(THROTTLE["RateLimit"])
REQUESTS = 3 * BURST
# A token bucket of BURST refilled at RATE per second lets REQUESTS through only if they take this
# long: a burst sent faster must be throttled (a busy engine may be too slow to send one).
UNTHROTTLED_SECONDS = (REQUESTS - BURST) / RATE


def _get(url: str, key: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers={"x-api-key": key})  # noqa: S310  # the local API's http URL
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), None
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.mark.engine
def test_a_client_over_the_usage_plans_rate_gets_429s_that_say_when_to_ask_again(client: PipelineClient) -> None:
    # Given three times the burst the plan allows, sent at once, faster than the plan's rate
    url = f"{client.api_url}/images?limit=1"
    tries: list[float] = []
    while len(tries) < 3:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(lambda _: _get(url, client.api_key), range(REQUESTS)))
        tries.append(time.monotonic() - started)
        if tries[-1] < UNTHROTTLED_SECONDS:
            break
        time.sleep(2 * BURST / RATE)  # the bucket fills up again
    assert tries[-1] < UNTHROTTLED_SECONDS, f"{REQUESTS} requests took {tries} s: never over the plan's rate"
    throttled = [a for a in answers if a[0] == 429]
    # Then the gateway let the burst through and refused the rest, each refusal with Retry-After
    assert throttled, sorted({a[0] for a in answers})
    assert {a[0] for a in answers} <= {200, 429}
    for _, headers, body in throttled:
        assert headers["Retry-After"] == "1"
        assert "Retry-After" in headers["Access-Control-Expose-Headers"]
        assert body == {"message": "Too Many Requests", "code": "THROTTLED", "errors": []}
