"""SSM Parameter Store adapter: where the push stack's WebSocket stage is, for the app's API.

The push stack is deployed after the app (it takes the app's outputs), so the app cannot name its
resources; the push stack writes its stage's URL to ``/<app stack>/push/watch-url`` instead. The
API reads it once per execution environment and again after a minute, so a push stack deployed
(or deleted) later is noticed without a redeploy of the app.
"""

import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from image_pipeline.notify.ports import WatchEndpoint

CACHE_SECONDS = 60.0


class SsmWatchEndpoint(WatchEndpoint):
    def __init__(
        self,
        name: str,
        client: Any = None,  # an SSM client (no type stubs for SSM in this project)
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._client = client or boto3.client("ssm")
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[float, str | None] | None = None

    def url(self) -> str | None:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        try:
            value: str | None = str(self._client.get_parameter(Name=self._name)["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            value = None  # no push stack beside the app
        self._cached = (now, value)
        return value
