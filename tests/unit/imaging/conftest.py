"""Fixtures of the imaging specs: which engine decodes and resamples."""

import pytest

from image_pipeline.imaging import vips


@pytest.fixture
def pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if libvips were not installed: every path falls back to Pillow."""
    monkeypatch.setattr(vips, "_pyvips", lambda: None)


@pytest.fixture(params=["libvips", "pillow"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a spec with libvips available (the shipped layer) and without it (the fallback)."""
    if request.param == "pillow":
        monkeypatch.setattr(vips, "_pyvips", lambda: None)
    elif not vips.available():
        pytest.skip("libvips (pyvips-binary) is not installed")
    return str(request.param)
