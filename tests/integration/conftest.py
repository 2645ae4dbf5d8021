"""Integration tests: the real template, built with `sam build` and deployed with `sam deploy`
(through `make deploy-local`) to a local engine of their own, on a free port."""

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.template import ROOT
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.stack import Stack

# Short enough to watch a stall happen in a test, long enough for a cold start on a busy machine.
STALL_TIMEOUT_SECONDS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def engine() -> Iterator[LocalEngine]:
    port = int(os.environ.get("TEST_ENGINE_PORT") or _free_port())
    engine = LocalEngine(port=port)
    engine.up()
    yield engine
    if not os.environ.get("KEEP_ENGINE"):
        engine.down()


@pytest.fixture(scope="session")
def stack(engine: LocalEngine) -> Iterator[Stack]:
    """The template deployed exactly as `make deploy-local` deploys it."""
    env = {
        **os.environ,
        **engine.client_env(),
        "PORT": str(engine.port),
        "STALL_TIMEOUT_SECONDS": str(STALL_TIMEOUT_SECONDS),
        "STACK_NAME": "image-pipeline-local",  # whatever a guided deploy saved in this clone
    }
    deployed = subprocess.run(
        ["make", "-s", "deploy-local"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in engine.client_env().items():
            patch.setenv(name, value)
        yield Stack("image-pipeline-local", endpoint_url=engine.url)


@pytest.fixture(scope="session")
def client(stack: Stack) -> PipelineClient:
    return PipelineClient(stack.api_url, stack.api_key)


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
