"""A web page on another origin uses the API and the bucket, in a real headless Chromium: CORS
preflights answered by API Gateway without the API key (and without any function), the presigned
POST from a browser form, status polling, an edit followed by its relative statusUrl, a download
link, API Gateway's own refusals readable by the page, and the README's snippet uploading and
watching an image over the push stack's WebSocket API to its final status, with no polling."""

import functools
import http.server
import os
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.conftest import EVENTS
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
    shutil.copy(PAGE / "upload.html", root / "upload.html")
    shutil.copy(PAGE / "watch.html", root / "watch.html")
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


@pytest.fixture(scope="module")
def uploaded(page: Any, stack: Stack) -> dict[str, Any]:
    """The page's upload, followed to its end."""
    result: dict[str, Any] = page.evaluate(
        "([api, key]) => uploadAndWait(api, key, '/photo.jpg', 120000)", [stack.api_url, stack.api_key]
    )
    return result


def test_a_page_on_another_origin_uploads_and_follows_an_image_to_complete(uploaded: dict[str, Any]) -> None:
    result = uploaded
    assert (result["created"], result["uploaded"]) == (201, 204)
    assert result["image"]["status"] == "COMPLETE", result["image"]
    assert result["image"]["filename"] == "from the browser.jpg"
    assert (result["thumbnail"], result["thumbnailType"]) == (200, "image/jpeg")


def test_the_page_can_read_why_api_gateway_refused_it(page: Any, stack: Stack) -> None:
    refused = page.evaluate("(api) => refused(api)", stack.api_url)
    assert refused["status"] == 403
    assert refused["body"]["code"] == "INVALID_API_KEY"
    assert set(refused["body"]) == {"message", "code", "errors"}


def test_the_page_edits_the_image_and_follows_the_edits_own_link(
    page: Any, stack: Stack, uploaded: dict[str, Any]
) -> None:
    image_id = uploaded["image"]["imageId"]
    body = {"operations": [{"crop": {"aspect": "1:1"}}, {"resize": {"width": 64}}], "format": "png"}
    result = page.evaluate(
        "([api, key, image, body]) => editAndWait(api, key, image, body, 180000)",
        [stack.api_url, stack.api_key, image_id, body],
    )
    assert result["accepted"] == 202
    # statusUrl and Location, resolved by the browser against the URL posted to, are the edit's route
    assert result["editUrl"] == result["location"] == f"{stack.api_url}/images/{image_id}/edits/{result['editId']}"
    assert result["edit"]["status"] == "COMPLETE", result["edit"]
    assert (result["edit"]["output"]["width"], result["edit"]["output"]["height"]) == (64, 64)


# ---------------------------------------------------------------- preflights: API Gateway's own
def _preflight(url: str, origin: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310  # the local engine, on 127.0.0.1
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()


def _invocations(function_name: str) -> int:
    """How many times the function ran: the START lines Lambda (and the engine) log per invocation."""
    pages = (
        boto3.client("logs").get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function_name}")
    )
    return sum(e["message"].startswith("START RequestId:") for page in pages for e in page["events"])


def test_every_preflight_is_answered_by_api_gateway_without_a_key_or_a_function(
    stack: Stack, client: PipelineClient, web_origin: str
) -> None:
    apigateway = boto3.client("apigateway")
    api_id = stack.outputs["ApiId"]
    function = stack.physical_id("ApiFunction")
    image = "0" * 32
    urls = [f"{stack.api_url}{path}" for path in ("/images", f"/images/{image}", f"/images/{image}/trace")]
    urls += [f"{stack.api_url}/images/{image}/edits", f"{stack.api_url}/images/{image}/edits/{image}"]
    # Given the deployed API: every resource with a route answers OPTIONS with a MOCK integration
    resources = apigateway.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
    routed = [r for r in resources if set(r.get("resourceMethods", {})) - {"OPTIONS"}]
    assert len(routed) == len(urls)
    for resource in routed:
        integration = apigateway.get_integration(restApiId=api_id, resourceId=resource["id"], httpMethod="OPTIONS")
        assert integration["type"] == "MOCK", resource["path"]
    # When a browser's preflight reaches each path, without a key
    before = _invocations(function)
    for url in urls:
        status, headers, _ = _preflight(url, web_origin)
        # Then API Gateway answers it with the CORS headers the template gives every path
        assert status == 200, url
        assert headers["access-control-allow-origin"] == web_origin, url
        assert {"content-type", "x-api-key"} <= set(headers["access-control-allow-headers"].lower().split(","))
        assert "POST" in headers["access-control-allow-methods"] or "GET" in headers["access-control-allow-methods"]
    # And no function ran for them, while one keyed request does run it (the count is live)
    assert _invocations(function) == before
    client.list_images(limit="1")
    assert _invocations(function) > before


# ---------------------------------------------------------------- watching, with the README's snippet
def test_the_readme_snippet_uploads_and_watches_an_image_to_complete_with_no_polling(
    page: Any, site: str, stack: Stack
) -> None:
    # Given a page on the allowed origin running the README's browser snippet
    watcher = page.context.browser.new_page()  # a page of its own: the module's page stays on upload.html
    watcher.goto(f"{site}/watch.html")
    watcher.add_script_tag(content=readme_block("js", "async function uploadAndWatch("))
    before = _invocations(stack.physical_id("ApiFunction"))
    # When it uploads a file and watches it on the URL POST /images answered
    final = watcher.evaluate(
        """async ([api, key]) => {
          const blob = await (await fetch("/photo.jpg")).blob();
          const file = new File([blob], "watched.jpg", {type: "image/jpeg"});
          window.seen = [];
          return uploadAndWatch(api, key, file, (change) => window.seen.push(change));
        }""",
        [stack.api_url, stack.api_key],
    )
    # Then it heard the image's status changes in order, ending in COMPLETE with its outputs' links
    seen = watcher.evaluate("() => window.seen.map((c) => [c.version, c.status, c.final])")
    assert seen[-1][1:] == ["COMPLETE", True]
    assert [version for version, _, _ in seen] == sorted({version for version, _, _ in seen})
    assert (final["image"]["imageId"], final["image"]["status"]) == (final["imageId"], "COMPLETE")
    thumbnail = watcher.evaluate(
        "(url) => fetch(url).then((r) => [r.status, r.headers.get('content-type')])",
        final["image"]["outputs"]["thumbnail"]["url"],
    )
    assert thumbnail == [200, "image/jpeg"]
    # and the page called the API once (POST /images): it never polled
    assert _invocations(stack.physical_id("ApiFunction")) == before + 1
    watcher.close()
