"""A web page on another origin uses the API and the bucket, in a real headless Chromium: CORS
preflights without the API key, the presigned POST from a browser form, status polling, a
download link, and API Gateway's own refusals readable by the page."""

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import EVENTS
from tools.stack import Stack

PAGE = Path(__file__).parent / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def site(web_origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, served on the origin the stack allows (and nowhere else)."""
    root = tmp_path_factory.mktemp("site")
    shutil.copy(PAGE / "upload.html", root / "upload.html")
    shutil.copy(EVENTS / "images" / "coffee-landscape.jpg", root / "photo.jpg")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", urlsplit(web_origin).port or 80), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield web_origin
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(site: str) -> Iterator[Any]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium or Chrome found (install Debian's chromium, or set CHROMIUM=/path/to/chrome)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  # only where a browser runs

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{site}/upload.html")
        yield page
        browser.close()


def test_a_page_on_another_origin_uploads_and_follows_an_image_to_complete(page: Any, stack: Stack) -> None:
    result = page.evaluate(
        "([api, key]) => uploadAndWait(api, key, '/photo.jpg', 120000)", [stack.api_url, stack.api_key]
    )
    assert (result["created"], result["uploaded"]) == (201, 204)
    assert result["image"]["status"] == "COMPLETE", result["image"]
    assert result["image"]["filename"] == "from the browser.jpg"
    assert (result["thumbnail"], result["thumbnailType"]) == (200, "image/jpeg")


def test_the_page_can_read_why_api_gateway_refused_it(page: Any, stack: Stack) -> None:
    refused = page.evaluate("(api) => refused(api)", stack.api_url)
    assert refused["status"] == 403
    assert refused["body"]["code"] == "INVALID_API_KEY"
    assert set(refused["body"]) == {"message", "code", "errors"}
