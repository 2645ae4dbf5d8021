"""Webhook delivery: a final status is POSTed, signed, to the image's callbackUrl until the
receiver takes it (2xx) or refuses it (4xx but 408/429); otherwise retried with backoff through
the queue for at least a day, then dead-lettered; one successful POST per final status."""

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from image_pipeline import contracts
from image_pipeline.image_api import Downloads
from image_pipeline.notify.callbacks import CallbackPolicy
from image_pipeline.notify.changes import NotAStatusChange
from image_pipeline.notify.delivery import (
    AttemptReport,
    Job,
    Outcome,
    RetrySchedule,
    WebhookConfig,
    WebhookPorts,
    attempted_event,
    deliver,
    verdict,
    webhook_id,
)
from image_pipeline.notify.ports import HttpResult
from image_pipeline.notify.results import Results
from image_pipeline.notify.signing import WebhookSecret, verify
from tests.fakes import InMemoryImageLog, InMemoryObjectStore
from tests.notify_fakes import (
    FakeResolver,
    InMemoryDeliveries,
    RecordingDeliveryQueue,
    RecordingTransport,
    StaticSecret,
)
from tests.notify_samples import EDIT, IMAGE, T0, as_eventbridge, failed_edit, processed_image, status_changed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CALLBACK = "https://hooks.example.com/images?token=abc"
PUBLIC = "93.184.215.14"
SCHEDULE = RetrySchedule()
DAY = timedelta(seconds=SCHEDULE.window_seconds)


@dataclass
class Clock:
    now: datetime = T0 + timedelta(seconds=20)
    step: timedelta = field(default_factory=lambda: timedelta(milliseconds=150))  # each reading: time passes

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


@dataclass
class Stack:
    """The webhook sender's ports, all fakes, around one processed image with a callback URL."""

    images: InMemoryImageLog
    transport: RecordingTransport
    queue: RecordingDeliveryQueue
    deliveries: InMemoryDeliveries
    resolver: FakeResolver
    clock: Clock
    config: WebhookConfig

    @property
    def ports(self) -> WebhookPorts:
        downloads = Downloads(InMemoryObjectStore(), "images-bucket", 3600)
        return WebhookPorts(
            images=self.images,
            results=Results(self.images, downloads, timedelta(seconds=300)),
            deliveries=self.deliveries,
            queue=self.queue,
            resolver=self.resolver,
            transport=self.transport,
            secrets=StaticSecret(SECRET),
        )

    def deliver(self, job: Job, draw: float = 0.0) -> AttemptReport:
        return deliver(job, self.ports, self.config, clock=self.clock, draw=lambda: draw)

    def next_job(self) -> Job:
        """The job the last failed attempt queued, taken off the queue."""
        message, _ = self.queue.queued.pop(0)
        return Job.from_message(json.loads(json.dumps(message)))  # through JSON, as SQS carries it


@pytest.fixture
def stack() -> Stack:
    images = InMemoryImageLog()
    processed_image(images, callback_url=CALLBACK)
    return Stack(
        images=images,
        transport=RecordingTransport(200),
        queue=RecordingDeliveryQueue(),
        deliveries=InMemoryDeliveries(),
        resolver=FakeResolver({"hooks.example.com": [PUBLIC]}),
        clock=Clock(),
        config=WebhookConfig(policy=CallbackPolicy(), producer="WebhookSender"),
    )


COMPLETE = status_changed(2, "COMPLETE", previous="PROCESSING", final=True)


def _first(change: Any = COMPLETE) -> Job:
    return Job(event=as_eventbridge(change))


# ---------------------------------------------------------------- the POST itself
def test_a_final_status_is_posted_once_signed_with_what_get_answers(stack: Stack) -> None:
    report = stack.deliver(_first())
    # Then exactly one POST went to the callback's checked address
    (posted,) = stack.transport.posted
    assert str(posted.destination.address) == PUBLIC
    assert posted.destination.callback.target == "/images?token=abc"
    # with the body GET /images/{id} answers
    body = json.loads(posted.body)
    expected = stack.ports.results.describe(report.change)
    assert body == expected
    assert body["status"] == "COMPLETE"
    # signed: a receiver holding the secret verifies it, and deduplicates on the event id
    timestamp = int(posted.headers["webhook-timestamp"])
    assert verify([WebhookSecret.parse(SECRET)], posted.headers, posted.body, now=timestamp) == COMPLETE.event_id
    assert posted.headers["content-type"] == "application/json"
    assert posted.timeout == stack.config.timeout_seconds
    # and the delivery is over
    assert (report.outcome, report.status_code) == (Outcome.DELIVERED, 200)
    assert stack.queue.queued == []


def test_a_status_that_is_not_final_is_not_posted(stack: Stack) -> None:
    report = stack.deliver(_first(status_changed(1, "PROCESSING")))
    assert (report.outcome, report.note, stack.transport.posted) == (None, "not final", [])


def test_an_image_without_a_callback_url_costs_no_attempt(stack: Stack) -> None:
    images = InMemoryImageLog()
    processed_image(images)  # no callbackUrl
    stack.images = images
    report = stack.deliver(_first())
    assert (report.outcome, report.note) == (None, "no callbackUrl")
    assert (stack.transport.posted, stack.deliveries.deliveries) == ([], {})


def test_an_edit_posts_what_get_edit_answers(stack: Stack) -> None:
    # Given an edit of the image that failed
    edit = failed_edit(stack.images)
    change = status_changed(1, "FAILED", previous="RUNNING", final=True, edit_id=edit, upload_version=None)
    # When its final status is delivered
    report = stack.deliver(_first(change))
    # Then the receiver gets what GET /images/{id}/edits/{editId} answers
    (posted,) = stack.transport.posted
    body = json.loads(posted.body)
    assert (body["imageId"], body["editId"], body["status"]) == (IMAGE, edit, "FAILED")
    assert body == stack.ports.results.describe(report.change)
    assert report.outcome is Outcome.DELIVERED


def test_an_unknown_edit_is_not_reported(stack: Stack) -> None:
    report = stack.deliver(_first(status_changed(3, "FAILED", final=True, edit_id=EDIT, upload_version=None)))
    assert (report.outcome, stack.transport.posted) == (Outcome.SUPERSEDED, [])


# ---------------------------------------------------------------- exactly once
def test_the_same_final_status_delivered_twice_is_posted_once(stack: Stack) -> None:
    first = stack.deliver(_first())
    again = stack.deliver(_first())  # SQS delivers at least once; the rule may fire twice
    assert first.outcome is Outcome.DELIVERED
    assert (again.outcome, again.note) == (None, "already delivered, or being attempted")
    assert len(stack.transport.posted) == 1


def test_an_attempt_in_flight_is_not_made_twice_but_a_dead_workers_is_made_again_after_its_lease(
    stack: Stack,
) -> None:
    # Given a worker claimed attempt 1 and died before settling it
    assert stack.deliveries.claim(
        COMPLETE.event_id, 1, now=stack.clock.now, lease_until=stack.clock.now + stack.config.lease
    )
    # When the message comes back while the lease holds, nothing is posted
    assert stack.deliver(_first()).outcome is None
    # and once the lease has lapsed, the attempt is made
    stack.clock.now += stack.config.lease + timedelta(seconds=1)
    assert stack.deliver(_first()).outcome is Outcome.DELIVERED
    assert len(stack.transport.posted) == 1


# ---------------------------------------------------------------- retries
@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (None, Outcome.RETRYING),
        (199, Outcome.RETRYING),
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (299, Outcome.DELIVERED),
        (300, Outcome.RETRYING),  # redirects are never followed
        (399, Outcome.RETRYING),
        (400, Outcome.STOPPED),
        (401, Outcome.STOPPED),
        (407, Outcome.STOPPED),
        (408, Outcome.RETRYING),  # request timeout
        (409, Outcome.STOPPED),
        (410, Outcome.STOPPED),
        (428, Outcome.STOPPED),
        (429, Outcome.RETRYING),  # too many requests
        (430, Outcome.STOPPED),
        (499, Outcome.STOPPED),
        (500, Outcome.RETRYING),
        (503, Outcome.RETRYING),
        (599, Outcome.RETRYING),
    ],
)
def test_2xx_ends_a_delivery_4xx_but_408_and_429_stops_it_the_rest_retries(
    status: int | None, outcome: Outcome
) -> None:
    assert verdict(HttpResult(status=status)) is outcome


def test_a_500_is_retried_later_through_the_queue_with_the_same_webhook_id(stack: Stack) -> None:
    # Given a receiver that answers 500, then 200
    stack.transport = RecordingTransport(500, 200)
    first = stack.deliver(_first())
    # Then the first attempt is retrying, and attempt 2 waits on the queue
    assert (first.outcome, first.status_code) == (Outcome.RETRYING, 500)
    (_, delay) = stack.queue.queued[0]
    assert delay == 10  # the first backoff (no jitter drawn)
    assert first.next_attempt_at is not None
    job = stack.next_job()
    assert (job.attempt, job.not_before) == (2, first.next_attempt_at)
    assert job.event == as_eventbridge(COMPLETE)
    # When it comes back after its delay
    stack.clock.now = first.next_attempt_at
    second = stack.deliver(job)
    # Then it is delivered, under the same webhook-id, and never again
    assert (second.outcome, second.attempt) == (Outcome.DELIVERED, 2)
    ids = {p.headers["webhook-id"] for p in stack.transport.posted}
    assert ids == {COMPLETE.event_id}
    assert stack.deliver(job).outcome is None
    assert len(stack.transport.posted) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_stops_the_delivery_at_once(stack: Stack, status: int) -> None:
    stack.transport = RecordingTransport(status)
    report = stack.deliver(_first())
    assert (report.outcome, stack.queue.queued, stack.queue.dead) == (Outcome.STOPPED, [], [])
    assert stack.deliver(_first()).outcome is None  # and is over


def test_no_answer_at_all_is_retried(stack: Stack) -> None:
    stack.transport = RecordingTransport(HttpResult(status=None, error="ConnectionRefusedError: [Errno 111]"))
    report = stack.deliver(_first())
    assert (report.outcome, report.status_code) == (Outcome.RETRYING, None)
    assert report.error is not None
    assert "ConnectionRefused" in report.error
    assert stack.queue.queued


def test_a_retry_after_header_lengthens_the_wait(stack: Stack) -> None:
    stack.transport = RecordingTransport(HttpResult(status=429, retry_after=120))
    report = stack.deliver(_first())
    assert report.next_attempt_at is not None
    assert report.next_attempt_at - stack.clock.now >= timedelta(seconds=119)
    assert stack.queue.queued[0][1] == 120


def test_a_wait_longer_than_sqs_can_delay_is_a_chain_of_delays(stack: Stack) -> None:
    # Given attempt 9 due 40 minutes from now (SQS delays at most 15 minutes)
    due = stack.clock.now + timedelta(minutes=40)
    job = Job(event=as_eventbridge(COMPLETE), attempt=9, first_tried_at=T0, not_before=due)
    # When it arrives early, it goes back for at most 15 minutes, nothing is posted
    report = stack.deliver(job)
    assert (report.outcome, report.note) == (None, "waiting")
    (message, delay), *_ = stack.queue.queued
    assert delay == 900
    assert Job.from_message(message) == job
    # and at its time it is attempted
    stack.clock.now = due
    assert stack.deliver(job).outcome is Outcome.DELIVERED


def test_the_delivery_gives_up_after_a_day_into_the_dead_letter_queue(stack: Stack) -> None:
    # Given a receiver that never answers 2xx
    stack.transport = RecordingTransport(503)
    job = _first()
    attempts = []
    while True:
        report = stack.deliver(job)
        attempts.append(report)
        if report.outcome is not Outcome.RETRYING:
            break
        job = stack.next_job()
        assert job.not_before is not None
        stack.clock.now = job.not_before
    # Then it tried for at least a day, with exponential backoff capped at 2 hours
    first_at, last_at = T0 + timedelta(seconds=20), stack.clock.now
    assert last_at - first_at >= DAY
    dues = [r.next_attempt_at for r in attempts[:-1] if r.next_attempt_at is not None]
    waits = [later - earlier for earlier, later in itertools.pairwise(dues)]
    assert waits[:3] == sorted(waits[:3])
    assert max(waits) <= timedelta(hours=2, seconds=1)
    assert len(attempts) < 30
    # and then gave up into the dead-letter queue, naming why and carrying the event
    assert attempts[-1].outcome is Outcome.GAVE_UP
    (dead,) = stack.queue.dead
    assert dead["attempts"] == len(attempts)
    assert dead["lastStatusCode"] == 503
    assert dead["event"] == as_eventbridge(COMPLETE)
    assert stack.deliver(job).outcome is None  # over


# ---------------------------------------------------------------- the schedule
def test_backoff_doubles_from_ten_seconds_to_two_hours() -> None:
    delays = [
        SCHEDULE.next_attempt(n, first_tried_at=T0, now=T0, retry_after=None, draw=0.0) - T0  # type: ignore[operator]
        for n in (1, 2, 3, 4, 10, 11, 12, 20)
    ]
    seconds = [d.total_seconds() for d in delays]
    assert seconds == [10, 20, 40, 80, 5120, 7200, 7200, 7200]


def test_jitter_only_shortens_a_wait_by_up_to_a_fifth() -> None:
    at = SCHEDULE.next_attempt(3, first_tried_at=T0, now=T0, retry_after=None, draw=0.999999)
    assert at is not None
    assert timedelta(seconds=32) <= at - T0 < timedelta(seconds=40)


@pytest.mark.parametrize(
    ("failed_at", "next_due"),
    [
        (DAY - timedelta(seconds=1), DAY),  # just before the day is over: one last attempt, at its end
        (DAY - timedelta(seconds=5), DAY),  # a backoff that would run past the day is cut to its end
        (DAY, None),  # at the end of the day: give up
        (DAY + timedelta(seconds=1), None),
    ],
)
def test_attempts_go_on_until_a_day_after_the_first_then_stop(failed_at: timedelta, next_due: timedelta | None) -> None:
    at = SCHEDULE.next_attempt(15, first_tried_at=T0, now=T0 + failed_at, retry_after=None, draw=0.0)
    assert at == (T0 + next_due if next_due is not None else None)


# ---------------------------------------------------------------- checked again at send time
def test_a_callback_now_resolving_to_a_private_address_is_refused_and_not_retried(stack: Stack) -> None:
    stack.resolver.answer("hooks.example.com", ["169.254.169.254"])  # rebound since POST /images
    report = stack.deliver(_first())
    assert report.outcome is Outcome.REFUSED
    assert report.error is not None
    assert "169.254.169.254" in report.error
    assert (stack.transport.posted, stack.queue.queued) == ([], [])


def test_a_callback_host_that_does_not_resolve_now_is_retried(stack: Stack) -> None:
    stack.resolver.answer("hooks.example.com", [])
    report = stack.deliver(_first())
    assert (report.outcome, stack.transport.posted) == (Outcome.RETRYING, [])
    assert report.error is not None
    assert "does not resolve" in report.error


def test_an_image_that_moved_on_is_not_reported_as_it_was(stack: Stack) -> None:
    # Given the image was uploaded again since it was COMPLETE (another upload version)
    stale = status_changed(2, "COMPLETE", final=True, upload_version="00FF")
    report = stack.deliver(_first(stale))
    assert (report.outcome, stack.transport.posted) == (Outcome.SUPERSEDED, [])
    # nor is a status it no longer has
    assert stack.deliver(_first(status_changed(3, "FAILED", final=True))).outcome is Outcome.SUPERSEDED


def test_a_message_that_is_not_a_status_change_raises_for_the_dead_letter_queue(stack: Stack) -> None:
    with pytest.raises(NotAStatusChange):
        stack.deliver(Job(event={"detail-type": "ImageStatusChanged", "detail": {"nonsense": True}}))


# ---------------------------------------------------------------- traced
def test_each_attempt_is_a_webhook_attempted_event_that_keeps_its_contract(stack: Stack) -> None:
    stack.transport = RecordingTransport(500, 200)
    first = attempted_event(stack.deliver(_first()), producer="WebhookSender")
    job = stack.next_job()
    assert job.not_before is not None
    stack.clock.now = job.not_before
    second = attempted_event(stack.deliver(job), producer="WebhookSender")
    assert first is not None
    assert second is not None
    for event in (first, second):
        assert str(contracts.validate(event.type.value, event.detail())) == "WebhookAttempted v1"
        assert (event.image_id, event.causation_id) == (IMAGE, COMPLETE.event_id)
    assert [(e.data["attempt"], e.data["statusCode"], e.data["outcome"]) for e in (first, second)] == [
        (1, 500, "retrying"),
        (2, 200, "delivered"),
    ]
    assert first.data["nextAttemptAt"] is not None
    assert second.data["latencyMs"] >= 0
    assert first.data["callbackHost"] == "hooks.example.com"  # never the URL: it may hold a token
    assert "token" not in json.dumps(first.detail())
    assert {first.event_id, second.event_id} == {f"webhook:{COMPLETE.event_id}:1", f"webhook:{COMPLETE.event_id}:2"}


def test_nothing_attempted_is_no_event(stack: Stack) -> None:
    report = stack.deliver(_first(status_changed(1, "PROCESSING")))
    assert attempted_event(report, producer="WebhookSender") is None


def test_an_event_id_the_signature_scheme_forbids_becomes_a_stable_digest() -> None:
    assert webhook_id("status:abc@0001") == "status:abc@0001"
    digest = webhook_id("status.with.dots")
    assert digest.startswith("evt_")
    assert "." not in digest
    assert digest == webhook_id("status.with.dots")
