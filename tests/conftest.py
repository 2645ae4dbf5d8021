"""Shared by every suite: sample events, the template, and the local stack (one engine and one
deployment per test session, used by the integration and end-to-end suites alike)."""

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template import ROOT
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.stack import Stack

# Short enough to watch a stall happen in a test, long enough for a cold start on a busy machine.
STALL_TIMEOUT_SECONDS = 20

EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


@pytest.fixture
def event_file() -> Any:
    return load_event


def sample_images() -> list[Path]:
    return sorted(p for p in (EVENTS / "images").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})


# ---------------------------------------------------------------- the local stack
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
def web_origin() -> str:
    """The browser origin the test stack allows (CORS); the browser test serves its page there."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="session")
def stack(engine: LocalEngine, web_origin: str) -> Iterator[Stack]:
    """The template deployed exactly as `make deploy-local` deploys it."""
    env = {
        **os.environ,
        **engine.client_env(),
        "PORT": str(engine.port),
        "STALL_TIMEOUT_SECONDS": str(STALL_TIMEOUT_SECONDS),
        "ALLOWED_ORIGIN": web_origin,
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A burst runs after every other test: it leaves the engine busy (cold workers, a backlog of
    events) for minutes, and the engine drops events it cannot place."""
    items.sort(key=lambda item: item.get_closest_marker("burst") is not None)
