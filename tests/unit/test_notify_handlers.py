"""The three push handlers as Lambda runs them (the template's environment, injected fakes):
WatchFunction's $connect/$disconnect, NotifierFunction on a status change, WebhookSender on a
batch from its queue."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from image_pipeline.image_api import Downloads
from image_pipeline.notify.callbacks import CallbackPolicy
from image_pipeline.notify.delivery import WebhookPorts
from image_pipeline.notify.results import Results
from image_pipeline.notify.watch import watch_token
from tests.fakes import InMemoryImageLog, InMemoryObjectStore, RecordingPublisher
from tests.notify_fakes import (
    FakeResolver,
    InMemoryDeliveries,
    InMemoryWatchers,
    RecordingDeliveryQueue,
    RecordingPusher,
    RecordingTransport,
    StaticSecret,
    connection_ids,
)
from tests.notify_samples import IMAGE, as_eventbridge, processed_image, status_changed

WATCH_KEY = "w" * 64
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
Load = Callable[..., ModuleType]


def _websocket_event(route: str, token: str | None = None) -> dict[str, Any]:
    return {
        "requestContext": {"routeKey": route, "eventType": route.strip("$").upper(), "connectionId": "c0nn="},
        "queryStringParameters": {"token": token} if token else None,
        "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- WatchFunction
def test_watch_admits_a_valid_token_refuses_others_and_forgets_on_disconnect(
    load_handler: Load, lambda_context: object
) -> None:
    handler = load_handler("WatchFunction")
    watchers = InMemoryWatchers()
    adapters = (watchers, StaticSecret(WATCH_KEY))
    token = watch_token(IMAGE, WATCH_KEY.encode(), datetime.now(UTC) + timedelta(minutes=15))
    # a valid token: admitted, watching its image
    assert handler.lambda_handler(_websocket_event("$connect", token), lambda_context, adapters) == {"statusCode": 200}
    assert connection_ids(watchers.watching(IMAGE)) == ["c0nn="]
    # anything else: 403, and the handshake fails
    refused = handler.lambda_handler(_websocket_event("$connect", token[:-2] + "xx"), lambda_context, adapters)
    assert refused["statusCode"] == 403
    assert "signature" in refused["body"]
    assert handler.lambda_handler(_websocket_event("$connect"), lambda_context, adapters)["statusCode"] == 403
    # $disconnect forgets it
    gone = handler.lambda_handler(_websocket_event("$disconnect"), lambda_context, adapters)
    assert gone == {"statusCode": 200, "imageId": IMAGE}
    assert connection_ids(watchers.watching(IMAGE)) == []


def test_watch_names_an_event_it_does_not_handle(load_handler: Load, lambda_context: object) -> None:
    handler = load_handler("WatchFunction")
    answer = handler.lambda_handler({"Records": []}, lambda_context, (InMemoryWatchers(), StaticSecret(WATCH_KEY)))
    assert "WebSocket events" in answer["unsupported"]


# ---------------------------------------------------------------- NotifierFunction
def _notifier_adapters(handler: ModuleType, images: InMemoryImageLog, watchers: InMemoryWatchers) -> Any:
    results = Results(images, Downloads(InMemoryObjectStore(), "b", 3600), timedelta(seconds=300))
    return handler.Adapters(watchers, RecordingPusher(), results, RecordingPublisher())


def test_the_notifier_pushes_a_change_to_the_watchers_and_records_it(
    load_handler: Load, lambda_context: object
) -> None:
    handler = load_handler("NotifierFunction")
    images = InMemoryImageLog()
    processed_image(images)
    watchers = InMemoryWatchers()
    watchers.add(IMAGE, "c0nn=", admitted_at=datetime.now(UTC), expires_at=datetime.now(UTC) + timedelta(hours=1))
    adapters = _notifier_adapters(handler, images, watchers)
    event = as_eventbridge(status_changed(2, "COMPLETE", final=True))
    summary = handler.lambda_handler(event, lambda_context, adapters)
    assert (summary["delivered"], summary["skipped"]) == (1, None)
    (message,) = adapters.pusher.to("c0nn=")
    assert json.loads(message)["image"]["status"] == "COMPLETE"
    assert adapters.publisher.types() == ["StatusPushed"]
    assert adapters.publisher.published[0].metadata.producer == "NotifierFunction"


def test_the_notifier_ignores_what_is_not_a_status_change(load_handler: Load, lambda_context: object) -> None:
    handler = load_handler("NotifierFunction")
    adapters = _notifier_adapters(handler, InMemoryImageLog(), InMemoryWatchers())
    event = as_eventbridge(status_changed(1, "PROCESSING"))
    event["detail-type"] = "ThumbnailCreated"
    answer = handler.lambda_handler(event, lambda_context, adapters)
    assert answer["pushed"] is False
    assert adapters.publisher.published == []


# ---------------------------------------------------------------- WebhookSender
def _sqs_batch(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795339800000"},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:WebhookQueue",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def sender(load_handler: Load) -> tuple[ModuleType, Any]:
    handler = load_handler("WebhookSender")
    images = InMemoryImageLog()
    processed_image(images, callback_url="https://hooks.example.com/x")
    ports = WebhookPorts(
        images=images,
        results=Results(images, Downloads(InMemoryObjectStore(), "b", 3600), timedelta(seconds=300)),
        deliveries=InMemoryDeliveries(),
        queue=RecordingDeliveryQueue(),
        resolver=FakeResolver({"hooks.example.com": ["93.184.215.14"]}),
        transport=RecordingTransport(200),
        secrets=StaticSecret(WEBHOOK_SECRET),
    )
    return handler, handler.Adapters(ports, RecordingPublisher())


def test_the_sender_delivers_a_batch_and_fails_only_the_poison_message(
    sender: tuple[ModuleType, Any], lambda_context: object
) -> None:
    handler, adapters = sender
    final = as_eventbridge(status_changed(2, "COMPLETE", final=True))
    answer = handler.lambda_handler(_sqs_batch(final, "not json", {"detail-type": "x"}), lambda_context, adapters)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert len(adapters.ports.transport.posted) == 1
    assert adapters.publisher.types() == ["WebhookAttempted"]
    assert adapters.publisher.published[0].metadata.producer == "WebhookSender"


def test_a_trace_that_cannot_be_published_does_not_undo_the_delivery(
    sender: tuple[ModuleType, Any], lambda_context: object
) -> None:
    handler, adapters = sender

    class Down(RecordingPublisher):
        def publish(self, events: Any) -> None:
            raise RuntimeError("EventBridge is down")

    broken = handler.Adapters(adapters.ports, Down())
    final = as_eventbridge(status_changed(2, "COMPLETE", final=True))
    assert handler.lambda_handler(_sqs_batch(final), lambda_context, broken) == {"batchItemFailures": []}
    assert len(adapters.ports.transport.posted) == 1


def test_the_sender_never_allows_loopback_callbacks_with_the_templates_defaults(load_handler: Load) -> None:
    handler = load_handler("WebhookSender")
    assert handler.config.policy == CallbackPolicy(allow_loopback=False)


def test_the_sender_names_an_event_it_does_not_handle(sender: tuple[ModuleType, Any], lambda_context: object) -> None:
    handler, adapters = sender
    answer = handler.lambda_handler(as_eventbridge(status_changed(1, "X")), lambda_context, adapters)
    assert "SQS batches" in answer["unsupported"]
