"""A web page on another origin uses the API and the bucket, in a real headless Chromium: CORS
preflights without the API key, the presigned POST from a browser form, status polling, a
download link, API Gateway's own refusals readable by the page, and the README's snippet watching
an image over the WebSocket API to its final status, with no polling."""

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
from tests.integration.conftest import settled, upload_image, wait_for
from tests.integration.push_helpers import announce, next_version, watch_url
from tests.integration.test_pipeline import _jpeg
from tests.readme import readme_block
from tools.client import PipelineClient
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
    shutil.copytree(PAGE, root, dirs_exist_ok=True)  # upload.html, watch.html
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


def test_the_readme_snippet_watches_an_image_to_its_final_status_with_no_polling(
    page: Any, site: str, stack: Stack, client: PipelineClient
) -> None:
    # Given a processed image, and a page on the allowed origin running the README's browser snippet
    image = settled(client, upload_image(client, _jpeg(), "watched.jpg", "image/jpeg"))
    watcher = page.context.browser.new_page()  # a page of its own: the module's page stays on upload.html
    watcher.goto(f"{site}/watch.html")
    watcher.add_script_tag(content=readme_block("js", "function watch("))
    # When it opens the image's watch URL (what POST /images answers) ...
    opened = watcher.evaluate(
        """(url) => {
          window.seen = [];
          const watching = watch(url, (change) => window.seen.push(change));
          watching.final.then((change) => { window.final = change; });
          return watching.opened.then(() => true);
        }""",
        watch_url(stack, image["imageId"]),
    )
    assert opened is True
    # ... and the tracker announces PROCESSING, then COMPLETE (issue 17's events, put by the test)
    first, second = next_version(), next_version()
    announce(stack, image, "PROCESSING", final=False, version=first, event_id=f"browser-{first}")
    wait_for(lambda: watcher.evaluate("() => window.seen.length") == 1, timeout=60)
    announce(stack, image, "COMPLETE", final=True, version=second, event_id=f"browser-{second}")
    # Then the page hears both, in order, and resolves with the final status and its links
    watcher.wait_for_function("() => window.final !== undefined", timeout=60_000)
    seen = watcher.evaluate("() => window.seen.map((c) => [c.version, c.status, c.final])")
    assert seen == [[first, "PROCESSING", False], [second, "COMPLETE", True]]
    final = watcher.evaluate("() => window.final.image")
    assert (final["imageId"], final["status"]) == (image["imageId"], "COMPLETE")
    # whose thumbnail link the page can fetch (the bucket's CORS allows the origin)
    thumbnail = watcher.evaluate(
        "(url) => fetch(url).then((r) => [r.status, r.headers.get('content-type')])",
        final["outputs"]["thumbnail"]["url"],
    )
    assert thumbnail == [200, "image/jpeg"]
    watcher.close()
