"""Shared by unit and integration tests: sample events and the template."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.template import ROOT

EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


@pytest.fixture
def event_file() -> Any:
    return load_event


def sample_images() -> list[Path]:
    return sorted(p for p in (EVENTS / "images").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
