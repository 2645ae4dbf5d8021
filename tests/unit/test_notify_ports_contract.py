"""One contract per push/webhook port, run against the AWS adapter (moto, botocore's Stubber, a
local HTTP server) and against the test fake, so the fakes the domain tests use cannot drift."""

import http.server
import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from image_pipeline.aws.deliveries import DynamoDeliveries
from image_pipeline.aws.delivery_queue import SqsDeliveryQueue
from image_pipeline.aws.net import HttpTransport, SocketResolver
from image_pipeline.aws.parameters import CACHE_SECONDS, SsmWatchEndpoint
from image_pipeline.aws.secrets import SecretsManagerVersions
from image_pipeline.aws.watchers import DynamoWatchers
from image_pipeline.aws.websocket import ApiGatewayPusher
from image_pipeline.notify.callbacks import CallbackPolicy, parse_callback_url
from image_pipeline.notify.ports import (
    CallbackUrl,
    Deliveries,
    DeliveryQueue,
    Destination,
    HttpResult,
    NameNotResolved,
    Pusher,
    Resolver,
    SecretVersions,
    WatchEndpoint,
    Watcher,
    Watchers,
    WebhookTransport,
)
from tests.notify_fakes import (
    FakeResolver,
    InMemoryDeliveries,
    InMemoryWatchers,
    RecordingDeliveryQueue,
    RecordingPusher,
    RecordingTransport,
    StaticSecret,
    StaticWatchEndpoint,
    connection_ids,
)

IMAGE = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
NOW = datetime.now(UTC).replace(microsecond=0)


# ---------------------------------------------------------------- Watchers
@pytest.fixture(params=["dynamodb", "fake"])
def watchers(request: pytest.FixtureRequest, aws: SimpleNamespace) -> Watchers:
    return DynamoWatchers(aws.WatchConnectionsTable) if request.param == "dynamodb" else InMemoryWatchers()


def test_watchers_are_found_by_image_until_they_disconnect(watchers: Watchers) -> None:
    later = NOW + timedelta(milliseconds=1500)
    watchers.add(IMAGE, "conn-b", admitted_at=later, expires_at=NOW + timedelta(hours=2))
    watchers.add(IMAGE, "conn-a", admitted_at=NOW, expires_at=NOW + timedelta(hours=2))
    watchers.add(OTHER, "conn-c", admitted_at=NOW, expires_at=NOW + timedelta(hours=2))
    # each with the moment $connect admitted it (to the microsecond: a push races the handshake)
    assert watchers.watching(IMAGE) == [Watcher("conn-a", NOW), Watcher("conn-b", later)]
    assert watchers.remove("conn-a") == IMAGE
    assert connection_ids(watchers.watching(IMAGE)) == ["conn-b"]
    assert watchers.remove("conn-a") is None  # a second $disconnect, or a 410 after it
    assert connection_ids(watchers.watching(OTHER)) == ["conn-c"]


def test_a_lapsed_connection_is_not_watching_even_before_ttl_deletes_it(watchers: Watchers) -> None:
    watchers.add(IMAGE, "old", admitted_at=NOW - timedelta(hours=2), expires_at=NOW - timedelta(seconds=1))
    watchers.add(IMAGE, "live", admitted_at=NOW, expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert connection_ids(watchers.watching(IMAGE)) == ["live"]


def test_pushes_only_move_forward_per_stream(watchers: Watchers) -> None:
    assert watchers.advance(IMAGE, "image", 2, "e2") is True
    assert watchers.advance(IMAGE, "image", 1, "e1") is False  # older: arrived late
    assert watchers.advance(IMAGE, "image", 2, "e2") is True  # the same event again (a retry)
    assert watchers.advance(IMAGE, "image", 2, "other") is False  # another event claiming that version
    assert watchers.advance(IMAGE, "image", 3, "e3") is True
    assert watchers.advance(IMAGE, "edit:x", 1, "x1") is True  # an edit counts on its own
    assert watchers.advance(OTHER, "image", 1, "o1") is True  # and so does another image


# ---------------------------------------------------------------- Deliveries
@pytest.fixture(params=["dynamodb", "fake"])
def deliveries(request: pytest.FixtureRequest, aws: SimpleNamespace) -> Deliveries:
    return DynamoDeliveries(aws.WebhookDeliveriesTable) if request.param == "dynamodb" else InMemoryDeliveries()


LEASE = timedelta(seconds=60)


def test_an_attempt_is_claimed_once_while_it_runs(deliveries: Deliveries) -> None:
    assert deliveries.claim("d1", 1, now=NOW, lease_until=NOW + LEASE) is True
    assert deliveries.claim("d1", 1, now=NOW + timedelta(seconds=59), lease_until=NOW + 2 * LEASE) is False
    assert deliveries.claim("d2", 1, now=NOW, lease_until=NOW + LEASE) is True  # deliveries are apart


def test_an_attempt_whose_worker_died_is_claimed_again_once_its_lease_lapses(deliveries: Deliveries) -> None:
    assert deliveries.claim("d1", 1, now=NOW, lease_until=NOW + LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    assert deliveries.claim("d1", 1, now=later, lease_until=later + LEASE) is True


def test_a_settled_attempt_is_never_made_again_but_the_next_one_may_be(deliveries: Deliveries) -> None:
    assert deliveries.claim("d1", 1, now=NOW, lease_until=NOW + LEASE)
    deliveries.settle("d1", 1, outcome=None)  # failed; attempt 2 is queued
    much_later = NOW + timedelta(hours=1)
    assert deliveries.claim("d1", 1, now=much_later, lease_until=much_later + LEASE) is False
    assert deliveries.claim("d1", 2, now=much_later, lease_until=much_later + LEASE) is True
    assert deliveries.claim("d1", 1, now=much_later, lease_until=much_later + LEASE) is False  # older


def test_an_ended_delivery_takes_no_more_attempts(deliveries: Deliveries) -> None:
    assert deliveries.claim("d1", 3, now=NOW, lease_until=NOW + LEASE)
    deliveries.settle("d1", 3, outcome="delivered")
    much_later = NOW + timedelta(hours=1)
    assert deliveries.claim("d1", 4, now=much_later, lease_until=much_later + LEASE) is False
    assert deliveries.claim("d1", 3, now=much_later, lease_until=much_later + LEASE) is False


# ---------------------------------------------------------------- DeliveryQueue
Taken = Callable[[str], list[tuple[dict[str, Any], int]]]


@pytest.fixture(params=["sqs", "fake"])
def queue(request: pytest.FixtureRequest, aws: SimpleNamespace) -> Iterator[tuple[DeliveryQueue, Taken]]:
    if request.param == "fake":
        fake = RecordingDeliveryQueue()
        yield fake, lambda which: fake.queued if which == "queue" else [(m, 0) for m in fake.dead]
        return
    sqs = boto3.client("sqs")
    urls = {name: sqs.create_queue(QueueName=f"webhook-{name}")["QueueUrl"] for name in ("queue", "dead")}

    def taken(which: str) -> list[tuple[dict[str, Any], int]]:
        received = sqs.receive_message(QueueUrl=urls[which], MaxNumberOfMessages=10).get("Messages", [])
        return [(json.loads(m["Body"]), 0) for m in received]

    yield SqsDeliveryQueue(urls["queue"], urls["dead"]), taken


def test_a_job_put_back_without_delay_comes_back_as_it_was(queue: tuple[DeliveryQueue, Taken]) -> None:
    adapter, taken = queue
    message = {"webhookRetry": {"attempt": 2, "notBefore": NOW.isoformat()}, "event": {"detail": {"ü": 1.5}}}
    adapter.later(message, 0)
    assert [m for m, _ in taken("queue")] == [message]


@pytest.mark.parametrize(("delay", "accepted"), [(-1, False), (0, True), (899, True), (900, True), (901, False)])
def test_a_delay_is_what_sqs_allows(queue: tuple[DeliveryQueue, Taken], delay: int, accepted: bool) -> None:
    adapter, _ = queue
    if accepted:
        adapter.later({"x": 1}, delay)
    else:
        with pytest.raises(ValueError, match="0-900"):
            adapter.later({"x": 1}, delay)


def test_a_delivery_that_gave_up_is_parked_on_the_dead_letter_queue(queue: tuple[DeliveryQueue, Taken]) -> None:
    adapter, taken = queue
    adapter.dead_letter({"reason": "no 2xx", "event": {"id": "e"}})
    assert [m for m, _ in taken("dead")] == [{"reason": "no 2xx", "event": {"id": "e"}}]
    assert taken("queue") == []


def test_the_sqs_adapter_sends_the_delay_sqs_applies() -> None:
    client = boto3.client("sqs")
    with Stubber(client) as stub:
        stub.add_response(
            "send_message",
            {"MessageId": "m1", "MD5OfMessageBody": "x"},
            {"QueueUrl": "https://q/webhooks", "MessageBody": '{"a":1}', "DelaySeconds": 900},
        )
        SqsDeliveryQueue("https://q/webhooks", "https://q/dead", client).later({"a": 1}, 900)
        stub.assert_no_pending_responses()


# ---------------------------------------------------------------- SecretVersions
Rotate = Callable[[str], None]


@pytest.fixture(params=["secretsmanager", "fake"])
def secret(request: pytest.FixtureRequest, aws: SimpleNamespace) -> tuple[SecretVersions, Rotate]:
    if request.param == "fake":
        fake = StaticSecret("first")
        return fake, lambda value: setattr(fake, "values", [value, fake.values[0]])
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="webhooks", SecretString="first")["ARN"]
    return SecretsManagerVersions(
        arn, cache_seconds=0
    ), lambda value: client.put_secret_value(SecretId=arn, SecretString=value) and None


def test_a_secret_is_its_current_value_then_its_previous_one_after_a_rotation(
    secret: tuple[SecretVersions, Rotate],
) -> None:
    versions, rotate = secret
    assert versions.versions() == ["first"]  # never rotated: no previous value
    rotate("second")
    assert versions.versions() == ["second", "first"]


def test_the_secrets_manager_adapter_reads_the_secret_once_per_cache_period() -> None:
    client = boto3.client("secretsmanager")
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value", {"SecretString": "current"}, {"SecretId": "s", "VersionStage": "AWSCURRENT"}
        )
        stub.add_client_error(
            "get_secret_value",
            "ResourceNotFoundException",
            expected_params={"SecretId": "s", "VersionStage": "AWSPREVIOUS"},
        )
        versions = SecretsManagerVersions("s", client)
        assert versions.versions() == ["current"]
        assert versions.versions() == ["current"]  # cached: no second call
        stub.assert_no_pending_responses()


def test_a_secret_that_cannot_be_read_is_an_error_not_an_empty_list() -> None:
    client = boto3.client("secretsmanager")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", "AccessDeniedException")
        with pytest.raises(Exception, match="AccessDenied"):
            SecretsManagerVersions("s", client).versions()


# ---------------------------------------------------------------- WatchEndpoint
PARAMETER = "/my-images/push/watch-url"
STAGE = "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1"
Deploy = Callable[[], None]


@pytest.fixture(params=["ssm", "fake"])
def endpoint(request: pytest.FixtureRequest, aws: SimpleNamespace) -> tuple[WatchEndpoint, Deploy]:
    if request.param == "fake":
        fake = StaticWatchEndpoint()
        return fake, lambda: setattr(fake, "value", STAGE)
    client = boto3.client("ssm")
    return SsmWatchEndpoint(
        PARAMETER, client, cache_seconds=0
    ), lambda: client.put_parameter(Name=PARAMETER, Value=STAGE, Type="String") and None


def test_the_watch_url_is_none_until_a_push_stack_writes_it(endpoint: tuple[WatchEndpoint, Deploy]) -> None:
    found, deploy_push = endpoint
    assert found.url() is None
    deploy_push()
    assert found.url() == STAGE


def test_the_ssm_adapter_reads_the_parameter_once_a_minute_found_or_not() -> None:
    client, now = boto3.client("ssm"), [100.0]
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "ParameterNotFound", expected_params={"Name": PARAMETER})
        stub.add_response("get_parameter", {"Parameter": {"Name": PARAMETER, "Value": STAGE}}, {"Name": PARAMETER})
        found = SsmWatchEndpoint(PARAMETER, client, clock=lambda: now[0])
        assert found.url() is None
        now[0] += CACHE_SECONDS - 0.001  # just inside the minute: still the cached answer
        assert found.url() is None
        now[0] += 0.001  # a minute on: read again (a push stack deployed since is noticed)
        assert found.url() == STAGE
        stub.assert_no_pending_responses()


def test_a_parameter_that_cannot_be_read_is_an_error_not_no_push_stack() -> None:
    client = boto3.client("ssm")
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "AccessDeniedException")
        with pytest.raises(Exception, match="AccessDenied"):
            SsmWatchEndpoint(PARAMETER, client).url()


# ---------------------------------------------------------------- Pusher
@pytest.fixture(params=["apigateway", "fake"])
def pusher(request: pytest.FixtureRequest) -> Iterator[tuple[Pusher, Callable[[], None]]]:
    """A pusher whose connection "live" takes messages and "gone" has gone (410)."""
    if request.param == "fake":
        yield RecordingPusher(gone={"gone"}), lambda: None
        return
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url="https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1"
    )
    with Stubber(client) as stub:
        stub.add_response("post_to_connection", {}, {"ConnectionId": "live", "Data": b'{"status":"COMPLETE"}'})
        stub.add_client_error(
            "post_to_connection",
            "GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": "gone", "Data": b'{"status":"COMPLETE"}'},
        )
        yield ApiGatewayPusher("unused", client), stub.assert_no_pending_responses


def test_a_message_reaches_a_live_connection_and_a_gone_one_says_so(pusher: tuple[Pusher, Callable[[], None]]) -> None:
    adapter, done = pusher
    assert adapter.push("live", b'{"status":"COMPLETE"}') is True
    assert adapter.push("gone", b'{"status":"COMPLETE"}') is False
    done()


def test_any_other_push_failure_is_raised_for_the_retry() -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url="https://a1.execute-api.us-east-1.amazonaws.com/v1")
    with Stubber(client) as stub:
        stub.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
        with pytest.raises(Exception, match="LimitExceeded"):
            ApiGatewayPusher("unused", client).push("live", b"{}")


# ---------------------------------------------------------------- Resolver
@pytest.fixture(params=["socket", "fake"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Resolver:
    if request.param == "fake":
        return FakeResolver({"localhost": ["127.0.0.1"]})
    request.getfixturevalue("socket_enabled")  # the real getaddrinfo, reading /etc/hosts only:
    real = socket.getaddrinfo

    def offline(host: str, *args: Any, **kwargs: Any) -> Any:
        # unit tests make no DNS queries: names other than localhost (/etc/hosts) do not exist here
        if host not in {"localhost", "127.0.0.1", "::1"}:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    return SocketResolver()


def test_a_literal_resolves_to_itself_and_localhost_to_loopback(resolver: Resolver) -> None:
    assert resolver.resolve("127.0.0.1") == [ipaddress.ip_address("127.0.0.1")]
    assert resolver.resolve("::1") == [ipaddress.ip_address("::1")]
    assert ipaddress.ip_address("127.0.0.1") in resolver.resolve("localhost")


def test_a_name_without_an_address_is_name_not_resolved(resolver: Resolver) -> None:
    with pytest.raises(NameNotResolved, match=r"no-such-host\.example"):
        resolver.resolve("no-such-host.example")


# ---------------------------------------------------------------- WebhookTransport
class _Receiver(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, str]] = (204, {})
    received: list[tuple[str, dict[str, str], bytes]] = []  # noqa: RUF012 - one receiver per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status, headers = type(self).answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(socket_enabled: None) -> Iterator[tuple[int, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "answer": (204, {})})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


Script = Callable[[int, dict[str, str]], None]
Received = Callable[[], list[tuple[str, dict[str, str], bytes]]]


@pytest.fixture(params=["http", "fake"])
def transport(
    request: pytest.FixtureRequest, receiver: tuple[int, type[_Receiver]]
) -> tuple[WebhookTransport, Destination, Script, Received]:
    """A transport, a destination whose host name is NOT what it connects to (a name pinned to
    127.0.0.1), how to script the receiver's answer, and what it received."""
    port, handler = receiver
    callback = CallbackUrl(
        url=f"http://hooks.example.com:{port}/hook?token=abc",
        scheme="http",
        host="hooks.example.com",
        port=port,
        target="/hook?token=abc",
        literal=None,
    )
    destination = Destination(callback, ipaddress.ip_address("127.0.0.1"))
    if request.param == "fake":
        fake = RecordingTransport()

        def script_fake(status: int, headers: dict[str, str]) -> None:
            given = headers.get("Retry-After", "")
            retry = int(given) if given.isdigit() else None
            fake.results = [HttpResult(status=status, retry_after=retry)]

        def received_fake() -> list[tuple[str, dict[str, str], bytes]]:
            return [
                (p.destination.callback.target, {**p.headers, "host": p.destination.callback.authority}, p.body)
                for p in fake.posted
            ]

        return fake, destination, script_fake, received_fake

    def script(status: int, headers: dict[str, str]) -> None:
        handler.answer = (status, headers)

    return HttpTransport(), destination, script, lambda: handler.received


def test_the_post_goes_to_the_pinned_address_with_the_hosts_name_headers_and_exact_body(
    transport: tuple[WebhookTransport, Destination, Script, Received],
) -> None:
    adapter, destination, script, received = transport
    script(204, {})
    body = '{"status":"COMPLETE","ü":1}'.encode()
    result = adapter.post(destination, {"webhook-id": "evt-1", "content-type": "application/json"}, body, timeout=5)
    assert (result.status, result.error) == (204, None)
    ((path, headers, got),) = received()
    assert path == "/hook?token=abc"
    assert headers["host"] == destination.callback.authority  # the name, though it connected to 127.0.0.1
    assert headers["webhook-id"] == "evt-1"
    assert got == body  # byte for byte: the signature covers it


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (302, {"Location": "http://10.0.0.1/"}, None),
        (429, {"Retry-After": "120"}, 120),
        (503, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
    ],
)
def test_a_redirect_is_reported_not_followed_and_retry_after_is_read(
    transport: tuple[WebhookTransport, Destination, Script, Received],
    status: int,
    headers: dict[str, str],
    retry_after: int | None,
) -> None:
    adapter, destination, script, received = transport
    script(status, headers)
    result = adapter.post(destination, {}, b"{}", timeout=5)
    assert (result.status, result.retry_after) == (status, retry_after)
    assert len(received()) == 1  # the redirect's target was never called


def test_no_listener_is_a_result_without_a_status_not_an_exception(socket_enabled: None) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    destination = Destination(
        parse_callback_url(f"http://127.0.0.1:{port}/", CallbackPolicy(allow_loopback=True)),
        ipaddress.ip_address("127.0.0.1"),
    )
    result = HttpTransport().post(destination, {}, b"{}", timeout=2)
    assert result.status is None
    assert result.error is not None
    assert "Refused" in result.error
