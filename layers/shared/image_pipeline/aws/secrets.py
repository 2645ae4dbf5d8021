"""Secrets Manager adapter: a secret's current value and, during a rotation, its previous one."""

import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from image_pipeline.notify.ports import SecretVersions

CACHE_SECONDS = 300  # a rotated value is picked up within five minutes (README: rotation)
_NO_SUCH_VERSION = frozenset({"ResourceNotFoundException"})


class SecretsManagerVersions(SecretVersions):
    def __init__(self, secret_id: str, client: Any = None, cache_seconds: float = CACHE_SECONDS) -> None:
        self._secret_id = secret_id
        self._client = client or boto3.client("secretsmanager")
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[str]] | None = None

    def _value(self, stage: str) -> str | None:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as exc:
            if stage != "AWSCURRENT" and exc.response.get("Error", {}).get("Code") in _NO_SUCH_VERSION:
                return None  # never rotated: there is no previous value
            raise
        return str(response["SecretString"])

    def versions(self) -> list[str]:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return list(self._cached[1])
        current = self._value("AWSCURRENT")
        previous = self._value("AWSPREVIOUS")
        values = [v for v in (current, previous) if v is not None]
        values = list(dict.fromkeys(values))  # the same value twice is one secret
        self._cached = (now, values)
        return list(values)
