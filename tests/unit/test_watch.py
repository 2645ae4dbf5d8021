"""Watching an image: the signed, short-lived token a watch URL carries (valid only for its image),
the URL POST /images hands out, and $connect admitting or refusing a connection."""

from datetime import UTC, datetime, timedelta

import pytest

from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.notify.ports import Watcher
from image_pipeline.notify.watch import (
    CONNECTION_LIFETIME,
    TOKEN_TTL,
    InvalidWatchToken,
    WatchLinks,
    WatchRequest,
    check_watch_token,
    client_endpoint,
    connect,
    management_endpoint,
    watch_link,
    watch_token,
)
from tests.notify_fakes import InMemoryWatchers, StaticSecret, StaticWatchEndpoint

IMAGE = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
KEY = b"k" * 48
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
ENDPOINT = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"


def _connect_event(token: str | None, connection: str = "L0SM9cOFvHcCIhw=") -> dict[str, object]:
    """A $connect event as API Gateway sends it to a Lambda proxy integration (trimmed)."""
    return {
        "headers": {"Host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": {"token": token} if token is not None else None,
        "multiValueQueryStringParameters": {"token": [token]} if token is not None else None,
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "ABCD1234=",
            "requestTime": "22/Nov/2026:09:30:00 +0000",
            "messageDirection": "IN",
            "stage": "v1",
            "connectedAt": 1795339800000,
            "requestTimeEpoch": 1795339800000,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"},
            "requestId": "ABCD1234=",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "connectionId": connection,
            "apiId": "a1b2c3d4e5",
        },
        "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- tokens
def test_a_token_grants_its_image_until_it_expires() -> None:
    token = watch_token(IMAGE, KEY, NOW + TOKEN_TTL)
    assert check_watch_token(token, [KEY], NOW) == IMAGE
    assert IMAGE in token  # which image is no secret; the signature is what cannot be forged


@pytest.mark.parametrize(
    ("checked_at", "valid"),
    [(timedelta(seconds=-1), True), (timedelta(0), False), (timedelta(seconds=1), False)],
)
def test_a_token_is_valid_strictly_before_its_expiry(checked_at: timedelta, valid: bool) -> None:
    expires = NOW + TOKEN_TTL
    token = watch_token(IMAGE, KEY, expires)
    if valid:
        assert check_watch_token(token, [KEY], expires + checked_at) == IMAGE
    else:
        with pytest.raises(InvalidWatchToken, match="expired"):
            check_watch_token(token, [KEY], expires + checked_at)


def test_a_token_cannot_be_moved_to_another_image_or_extended() -> None:
    token = watch_token(IMAGE, KEY, NOW + TOKEN_TTL)
    _, expires, mac = token.split(".")
    for forged in (
        f"{OTHER}.{expires}.{mac}",
        f"{IMAGE}.{int(expires) + 3600}.{mac}",
        f"{IMAGE}.{expires}.{mac[:-1]}A",
    ):
        with pytest.raises(InvalidWatchToken, match="signature"):
            check_watch_token(forged, [KEY], NOW)


def test_a_token_from_another_key_is_refused_and_the_previous_key_still_works_during_a_rotation() -> None:
    old, new = b"o" * 32, b"n" * 32
    token = watch_token(IMAGE, old, NOW + TOKEN_TTL)
    with pytest.raises(InvalidWatchToken):
        check_watch_token(token, [new], NOW)
    assert check_watch_token(token, [new, old], NOW) == IMAGE


@pytest.mark.parametrize(
    "token",
    ["", "garbage", f"{IMAGE}.123", f"{IMAGE}.abc.mac", f"{IMAGE[:-1]}.1.mac", f"{IMAGE}.1.mac.extra", f"{IMAGE}.1."],
)
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidWatchToken):
        check_watch_token(token, [KEY], NOW)


def test_tokens_need_an_image_id_and_a_long_enough_key() -> None:
    with pytest.raises(ValueError, match="image id"):
        watch_token("uploads/x.jpg", KEY, NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        watch_token(IMAGE, b"k" * 31, NOW)
    assert watch_token(IMAGE, b"k" * 32, NOW)


# ---------------------------------------------------------------- the watch object of POST /images
def test_the_watch_link_is_the_stage_url_with_a_token_valid_for_fifteen_minutes() -> None:
    link = watch_link(IMAGE, key=KEY, endpoint=ENDPOINT, now=NOW + timedelta(microseconds=5))
    watch = link.to_dict()
    assert set(watch) == {"url", "expiresAt"}
    assert watch["url"].startswith(f"{ENDPOINT}?token={IMAGE}.")
    assert datetime.fromisoformat(watch["expiresAt"]) == NOW + TOKEN_TTL
    token = watch["url"].split("token=")[1]
    assert check_watch_token(token, [KEY], NOW + TOKEN_TTL - timedelta(seconds=1)) == IMAGE


def test_the_api_hands_out_a_watch_object_signed_with_the_current_key() -> None:
    # Given a push stack beside the app, and the watch key just rotated (current first, previous second)
    links = WatchLinks(StaticSecret("n" * 64, "o" * 64), StaticWatchEndpoint(ENDPOINT), "http://127.0.0.1:4614")
    # When POST /images builds its watch object
    watch = links.for_image(IMAGE, NOW)
    # Then the URL is the engine's form locally, and its token is signed with the new key
    assert watch is not None
    assert watch.url.startswith("ws://127.0.0.1:4614/_aws/execute-api/a1b2c3d4e5/v1?token=")
    token = watch.url.split("token=")[1]
    assert check_watch_token(token, [b"n" * 64], NOW) == IMAGE
    with pytest.raises(InvalidWatchToken):
        check_watch_token(token, [b"o" * 64], NOW)
    on_aws = WatchLinks(StaticSecret("n" * 64), StaticWatchEndpoint(ENDPOINT)).for_image(IMAGE, NOW)
    assert on_aws is not None
    assert on_aws.url.startswith(f"{ENDPOINT}?token=")


def test_without_a_push_stack_there_is_no_watch_object_and_the_key_is_never_read() -> None:
    keys = StaticSecret("n" * 64)
    keys.values.clear()  # reading it would fail: there is no current value
    assert WatchLinks(keys, StaticWatchEndpoint(None)).for_image(IMAGE, NOW) is None


def test_a_watch_url_that_is_not_a_stage_url_gives_no_watch_object_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # (the parameter is the push stack's to write: uploads go on without a watch if it is broken)
    links = WatchLinks(StaticSecret("n" * 64), StaticWatchEndpoint("https://example.com/not-a-stage"))
    assert links.for_image(IMAGE, NOW) is None
    assert "unusable" in caplog.text


def test_clients_connect_to_the_stage_on_aws_and_to_the_engines_path_form_locally() -> None:
    assert client_endpoint(ENDPOINT) == ENDPOINT
    local = client_endpoint(ENDPOINT, "http://127.0.0.1:4614")
    assert local == "ws://127.0.0.1:4614/_aws/execute-api/a1b2c3d4e5/v1"
    assert client_endpoint(ENDPOINT, "https://engine.example:4566") == (
        "wss://engine.example:4566/_aws/execute-api/a1b2c3d4e5/v1"
    )


def test_pushes_go_to_the_stages_connections_api() -> None:
    assert management_endpoint(ENDPOINT) == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
    assert management_endpoint(ENDPOINT, "http://127.0.0.1:4614/") == (
        "http://127.0.0.1:4614/_aws/execute-api/a1b2c3d4e5/v1"
    )


@pytest.mark.parametrize(
    "endpoint", ["wss://example.com/v1", "wss://a1.execute-api.x.amazonaws.com", "https://a1/v1/x"]
)
def test_an_endpoint_that_is_not_a_websocket_stage_is_a_configuration_error(endpoint: str) -> None:
    with pytest.raises(ValueError, match="stage URL"):
        client_endpoint(endpoint)


# ---------------------------------------------------------------- $connect
def test_a_connection_with_a_valid_token_watches_its_image_for_two_hours() -> None:
    watchers = InMemoryWatchers(clock=lambda: NOW)
    request = WatchRequest.from_event(_connect_event(watch_token(IMAGE, KEY, NOW + TOKEN_TTL)))
    assert connect(request, keys=[KEY], watchers=watchers, now=NOW) == IMAGE
    assert watchers.watching(IMAGE) == [Watcher("L0SM9cOFvHcCIhw=", admitted_at=NOW)]
    assert watchers.connections["L0SM9cOFvHcCIhw="][2] == NOW + CONNECTION_LIFETIME
    assert watchers.watching(OTHER) == []


@pytest.mark.parametrize("token", [None, "", "nonsense"])
def test_a_connection_without_a_valid_token_is_refused_and_not_kept(token: str | None) -> None:
    watchers = InMemoryWatchers(clock=lambda: NOW)
    with pytest.raises(InvalidWatchToken):
        connect(WatchRequest.from_event(_connect_event(token)), keys=[KEY], watchers=watchers, now=NOW)
    assert watchers.connections == {}


def test_a_disconnect_event_names_its_route_and_connection() -> None:
    event = _connect_event(None)
    event["requestContext"] = {**event["requestContext"], "routeKey": "$disconnect", "eventType": "DISCONNECT"}  # type: ignore[dict-item]
    request = WatchRequest.from_event(event)
    assert (request.route, request.connection_id, request.token) == ("$disconnect", "L0SM9cOFvHcCIhw=", None)


@pytest.mark.parametrize("event", [None, {}, {"requestContext": {"routeKey": "$connect"}}, {"detail-type": "x"}])
def test_anything_but_a_websocket_event_is_named_as_unsupported(event: object) -> None:
    with pytest.raises(UnsupportedEvent, match="WebSocket events"):
        WatchRequest.from_event(event)
