"""Integration tests: the real template, built with `sam build` and deployed with `sam deploy`
(through `make deploy-local`) to a local engine of their own, on a free port. The engine and the
stack are session fixtures in tests/conftest.py, shared with the end-to-end suite."""

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import STALL_TIMEOUT_SECONDS
from tests.template import ROOT
from tools.client import PipelineClient
from tools.stack import Stack

__all__ = ["STALL_TIMEOUT_SECONDS", "Invoked", "invoke", "s3", "settled", "upload_image", "wait_for"]


@pytest.fixture(scope="session")
def built() -> Path:
    """Where `sam build` put the functions and layers of the local build."""
    return ROOT / ".aws-sam" / "local"


def wait_for(condition: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    """Poll until ``condition()`` is truthy; return it, or fail with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            assert value, f"still {value!r} after {timeout}s"
            return value
        time.sleep(interval)


def upload_image(client: PipelineClient, data: bytes, filename: str, content_type: str) -> str:
    created = client.create_image(filename, content_type)
    client.upload(created, data, filename, content_type)
    return str(created["imageId"])


def settled(client: PipelineClient, image_id: str, timeout: float = 90) -> dict[str, Any]:
    """The image once COMPLETE or REJECTED (a slow image may pass through STALLED first)."""
    return dict(
        wait_for(lambda: (i := client.get_image(image_id))["status"] in {"COMPLETE", "REJECTED"} and i, timeout=timeout)
    )


def s3() -> Any:
    return boto3.client("s3")


@dataclass(frozen=True)
class Invoked:
    payload: Any
    logs: str
    ok: bool  # False when the function raised (Lambda's FunctionError)


def invoke(stack: Stack, logical_id: str, event: Any) -> Invoked:
    """Invoke a function of the stack directly (tests/integration/test_invoke.py drives `make invoke`)."""
    response = boto3.client("lambda").invoke(
        FunctionName=stack.physical_id(logical_id), Payload=json.dumps(event).encode(), LogType="Tail"
    )
    logs = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    return Invoked(json.loads(response["Payload"].read() or b"null"), logs, "FunctionError" not in response)
