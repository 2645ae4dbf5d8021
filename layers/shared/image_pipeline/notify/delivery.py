"""Webhook delivery: when an image (or an edit) reaches a final status, POST what ``GET`` answers
to its ``callbackUrl``, signed (Standard Webhooks), until the receiver takes it.

- One delivery per final status change. Its id is the change's event id, which is also the
  ``webhook-id`` on every attempt (receivers deduplicate on it).
- A ``2xx`` ends it (``delivered``). A ``4xx`` other than 408 and 429 ends it too (``stopped``:
  the receiver refuses this request and will refuse it again). Anything else (3xx: redirects are
  never followed; 408, 429, 5xx, no response, a name that does not resolve) is retried with
  exponential backoff (:class:`RetrySchedule`) for at least a day; then the delivery gives up
  (``gave_up``) into the dead-letter queue, whose alarm tells an operator.
- The URL is checked again before every attempt, which connects to the checked address
  (``refused`` ends the delivery when it no longer passes). An image that has moved on since the
  change (another status, another upload) is not reported (``superseded``): its next final
  status is.
- Attempts are claimed (:class:`~image_pipeline.notify.ports.Deliveries`): a queue message
  delivered twice makes one attempt, and a delivered status is never POSTed again. (A worker that
  dies between the receiver's 2xx and recording it leaves the attempt to be made again: receivers
  deduplicate on ``webhook-id``.)
- Between attempts the job waits in the queue: SQS delays are at most 15 minutes, so a longer
  wait is a chain of delays, each message carrying its not-before time.

Every attempt is an event on the app bus, ``WebhookAttempted`` (attempt, status code, latency,
outcome), which the tracker records under the image: the trace answers "was the client told?".
"""

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.notify.callbacks import CallbackPolicy, CallbackRefused, destination, parse_callback_url
from image_pipeline.notify.changes import StatusChange
from image_pipeline.notify.ports import (
    MAX_QUEUE_DELAY_SECONDS,
    Deliveries,
    DeliveryQueue,
    HttpResult,
    NameNotResolved,
    Resolver,
    SecretVersions,
    WebhookTransport,
)
from image_pipeline.notify.results import Results, still_current
from image_pipeline.notify.signing import WebhookSecret, check_id, signed_headers
from image_pipeline.ports import ImageLog

RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})  # timeout, rate limit: the receiver asks to try again
USER_AGENT = "image-pipeline-webhooks/1"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    STOPPED = "stopped"
    GAVE_UP = "gave_up"
    REFUSED = "refused"
    SUPERSEDED = "superseded"

    @property
    def final(self) -> bool:
        return self is not Outcome.RETRYING


def verdict(result: HttpResult) -> Outcome:
    """What one attempt's result means for the delivery."""
    status = result.status
    if status is not None and 200 <= status <= 299:
        return Outcome.DELIVERED
    if status is not None and 400 <= status <= 499 and status not in RETRYABLE_CLIENT_ERRORS:
        return Outcome.STOPPED
    return Outcome.RETRYING


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter, for at least ``window_seconds`` after the first attempt:
    10 s, 20 s, 40 s ... doubling up to every 2 hours, the last attempt at the window's end."""

    first_delay_seconds: float = 10
    max_delay_seconds: float = 2 * 3600
    window_seconds: float = 24 * 3600
    jitter: float = 0.2  # each delay is shortened by up to this share, so retries spread out

    def next_attempt(
        self, attempt: int, *, first_tried_at: datetime, now: datetime, retry_after: int | None, draw: float
    ) -> datetime | None:
        """When to try after attempt ``attempt`` failed at ``now``; None once the window is over.
        ``draw`` is a random number in [0, 1); a ``Retry-After`` lengthens the wait (up to the cap)."""
        window_end = first_tried_at + timedelta(seconds=self.window_seconds)
        if now >= window_end:
            return None
        backoff = min(self.max_delay_seconds, self.first_delay_seconds * 2 ** (attempt - 1))
        delay = backoff * (1 - self.jitter * draw)
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), self.max_delay_seconds))
        return min(now + timedelta(seconds=delay), window_end)


def webhook_id(event_id: str) -> str:
    """The ``webhook-id`` of a change: its event id, or a digest of it when the id holds a
    character the signature scheme forbids (a '.')."""
    try:
        return check_id(event_id)
    except ValueError:
        return "evt_" + hashlib.sha256(event_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Job:
    """One queued delivery step: the change as EventBridge delivered it, and which attempt is due."""

    event: Mapping[str, Any]
    attempt: int = 1
    first_tried_at: datetime | None = None
    not_before: datetime | None = None

    @classmethod
    def from_message(cls, body: Mapping[str, Any]) -> Self:
        """A queue message: the rule's EventBridge event (attempt 1), or a retry this code queued."""
        retry = body.get("webhookRetry")
        if not isinstance(retry, Mapping):
            return cls(event=body)
        return cls(
            event=body["event"],
            attempt=int(retry["attempt"]),
            first_tried_at=datetime.fromisoformat(retry["firstTriedAt"]),
            not_before=datetime.fromisoformat(retry["notBefore"]),
        )

    def message(self) -> dict[str, Any]:
        if self.first_tried_at is None or self.not_before is None:
            return dict(self.event)
        retry = {
            "attempt": self.attempt,
            "firstTriedAt": self.first_tried_at.isoformat(),
            "notBefore": self.not_before.isoformat(),
        }
        return {"webhookRetry": retry, "event": dict(self.event)}


@dataclass(frozen=True)
class WebhookConfig:
    policy: CallbackPolicy
    producer: str
    schedule: RetrySchedule = RetrySchedule()
    timeout_seconds: float = 10.0  # per attempt (the Standard Webhooks advice is 15-30 s for receivers)
    lease: timedelta = timedelta(seconds=60)  # > one attempt; < the queue's visibility timeout


@dataclass(frozen=True)
class WebhookPorts:
    images: ImageLog
    results: Results
    deliveries: Deliveries
    queue: DeliveryQueue
    resolver: Resolver
    transport: WebhookTransport
    secrets: SecretVersions


@dataclass(frozen=True)
class AttemptReport:
    change: StatusChange
    attempt: int
    outcome: Outcome | None = None  # None: nothing was attempted (see note)
    note: str | None = None
    status_code: int | None = None
    error: str | None = None
    latency_ms: int | None = None
    next_attempt_at: datetime | None = None
    callback_host: str | None = None


def _queue_delay(wait: timedelta) -> int:
    return max(0, min(MAX_QUEUE_DELAY_SECONDS, math.ceil(wait.total_seconds())))


def _post(
    change: StatusChange,
    result: Mapping[str, Any],
    callback: str,
    *,
    ports: WebhookPorts,
    config: WebhookConfig,
    clock: Callable[[], datetime],
) -> tuple[HttpResult, int | None]:
    """One signed POST to the checked address; raises CallbackRefused."""
    try:
        target = destination(parse_callback_url(callback, config.policy), config.policy, ports.resolver)
    except NameNotResolved as exc:
        return HttpResult(status=None, error=f"the callback host does not resolve: {exc}"), None
    body = json.dumps(result, separators=(",", ":")).encode()
    secrets = [WebhookSecret.parse(value) for value in ports.secrets.versions()]
    started = clock()
    headers = {
        **signed_headers(secrets, webhook_id(change.event_id), int(started.timestamp()), body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    answer = ports.transport.post(target, headers, body, timeout=config.timeout_seconds)
    return answer, round((clock() - started).total_seconds() * 1000)


def _host(callback: str, policy: CallbackPolicy) -> str | None:
    try:
        return parse_callback_url(callback, policy).host
    except CallbackRefused:
        return None


def deliver(
    job: Job,
    ports: WebhookPorts,
    config: WebhookConfig,
    *,
    clock: Callable[[], datetime],
    draw: Callable[[], float],
) -> AttemptReport:
    """Make the attempt ``job`` is due for (see the module's docstring).

    Raises NotAStatusChange for a message that is not a status change (a poison message: the
    queue retries it, then dead-letters it).
    """
    change = StatusChange.from_eventbridge(dict(job.event))
    now = clock()
    if job.not_before is not None and now < job.not_before:
        ports.queue.later(job.message(), _queue_delay(job.not_before - now))
        return AttemptReport(change, job.attempt, note="waiting")
    if not change.final:
        return AttemptReport(change, job.attempt, note="not final")
    record = ports.images.get_image(change.image_id)
    callback = record.callback_url if record is not None else None
    if callback is None:
        return AttemptReport(change, job.attempt, note="no callbackUrl")
    if not ports.deliveries.claim(change.event_id, job.attempt, now=now, lease_until=now + config.lease):
        return AttemptReport(change, job.attempt, note="already delivered, or being attempted")
    report = _attempt(job, change, callback, ports, config, clock=clock, draw=draw)
    final = report.outcome.value if report.outcome is not None and report.outcome.final else None
    ports.deliveries.settle(change.event_id, job.attempt, outcome=final)
    return report


def _attempt(
    job: Job,
    change: StatusChange,
    callback: str,
    ports: WebhookPorts,
    config: WebhookConfig,
    *,
    clock: Callable[[], datetime],
    draw: Callable[[], float],
) -> AttemptReport:
    base = AttemptReport(change, job.attempt, callback_host=_host(callback, config.policy))
    result = ports.results.describe(change)
    if result is None or not still_current(change, result):
        return replace(base, outcome=Outcome.SUPERSEDED, note="the image has moved on since this change")
    try:
        answer, latency = _post(change, result, callback, ports=ports, config=config, clock=clock)
    except CallbackRefused as exc:
        return replace(base, outcome=Outcome.REFUSED, error=f"{exc.reason}: {exc}")
    outcome = verdict(answer)
    report = replace(base, outcome=outcome, status_code=answer.status, error=answer.error, latency_ms=latency)
    if outcome is not Outcome.RETRYING:
        return report
    now = clock()
    first = job.first_tried_at or now
    next_at = config.schedule.next_attempt(
        job.attempt, first_tried_at=first, now=now, retry_after=answer.retry_after, draw=draw()
    )
    if next_at is None:
        ports.queue.dead_letter(
            {
                "reason": f"no 2xx in {config.schedule.window_seconds:.0f} s: gave up after attempt {job.attempt}",
                "attempts": job.attempt,
                "lastStatusCode": answer.status,
                "lastError": answer.error,
                "firstTriedAt": first.isoformat(),
                "event": dict(job.event),
            }
        )
        return replace(report, outcome=Outcome.GAVE_UP)
    retry = replace(job, attempt=job.attempt + 1, first_tried_at=first, not_before=next_at)
    ports.queue.later(retry.message(), _queue_delay(next_at - now))
    return replace(report, next_attempt_at=next_at)


def attempted_event(report: AttemptReport, *, producer: str) -> PipelineEvent | None:
    """The ``WebhookAttempted`` event of an attempt that was made (None when none was)."""
    if report.outcome is None:
        return None
    change = report.change
    data: dict[str, Any] = {
        "attempt": report.attempt,
        "outcome": report.outcome.value,
        "statusCode": report.status_code,
        "latencyMs": report.latency_ms,
        "error": report.error,
        "nextAttemptAt": report.next_attempt_at.isoformat() if report.next_attempt_at else None,
        "callbackHost": report.callback_host,  # the host only: a URL may carry the receiver's token
        "status": change.status,
        "webhookId": webhook_id(change.event_id),
    }
    if change.edit_id is not None:
        data["editId"] = change.edit_id
    return PipelineEvent.new(
        EventType.WEBHOOK_ATTEMPTED,
        image_id=change.image_id,
        producer=producer,
        event_id=f"webhook:{change.event_id}:{report.attempt}",
        causation_id=change.event_id,
        data=data,
    )
