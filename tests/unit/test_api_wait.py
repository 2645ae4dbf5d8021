"""GET /images/{id}?wait=N: one call that answers as soon as the image is settled, or after N
seconds with its status as it then is. Time is a fake clock here: a pause moves it on at once."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from image_pipeline import catalogue
from image_pipeline.api_models import MAX_WAIT_SECONDS, ImageView
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.rest.deps import WAIT_MARGIN_SECONDS, ApiDeps
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.catalogue import SETTLED, ImageStatus
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.image_api import FIRST_POLL_SECONDS, MAX_POLL_SECONDS, await_image
from tests import gateway
from tests.fakes import RecordingEditStarter, RecordingPublisher
from tests.notify_fakes import api_push

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
UPLOAD = f"{IMAGE}@0A1B"
STAGE = "v1"
URL = f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/{STAGE}/images/{IMAGE}"


@dataclass
class FakeTime:
    """A monotonic clock that a pause moves on; it remembers every pause, and may act at one."""

    now: float = 0.0
    pauses: list[float] = field(default_factory=list)
    at_pause: Callable[[int], None] = lambda _: None

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds
        self.at_pause(len(self.pauses))


def _view(status: ImageStatus) -> ImageView:
    return ImageView.model_validate(
        {
            "imageId": IMAGE,
            "status": status.value,
            **dict.fromkeys(("reason", "reasonCode", "filename", "contentType", "origin", "createdAt"), None),
            **dict.fromkeys(("uploadedAt", "upload", "deadline", "analysis"), None),
            "missing": [],
            "outputs": {},
        }
    )


def _reads(*statuses: ImageStatus) -> Callable[[str], ImageView]:
    """An image read as each status in turn (the last one from then on)."""
    remaining = list(statuses)

    def describe(_: str) -> ImageView:
        return _view(remaining.pop(0) if len(remaining) > 1 else remaining[0])

    return describe


# ---------------------------------------------------------------- the wait itself
def test_a_settled_image_is_answered_without_waiting() -> None:
    time = FakeTime()
    image = await_image(IMAGE, 20, describe=_reads(ImageStatus.COMPLETE), clock=time.clock, pause=time.pause)
    assert image is not None
    assert (image.status, time.pauses) == ("COMPLETE", [])


def test_the_image_is_answered_at_the_first_read_that_finds_it_settled() -> None:
    time = FakeTime()
    describe = _reads(ImageStatus.PENDING, ImageStatus.PROCESSING, ImageStatus.PROCESSING, ImageStatus.COMPLETE)
    image = await_image(IMAGE, 20, describe=describe, clock=time.clock, pause=time.pause)
    assert image is not None
    assert image.status == "COMPLETE"
    assert time.pauses == [FIRST_POLL_SECONDS, 2 * FIRST_POLL_SECONDS, 4 * FIRST_POLL_SECONDS]


def test_an_image_still_moving_is_answered_as_it_is_when_the_wait_is_over() -> None:
    # Given an image that stays PROCESSING, and a wait of 3 s
    time = FakeTime()
    image = await_image(IMAGE, 3, describe=_reads(ImageStatus.PROCESSING), clock=time.clock, pause=time.pause)
    # Then it is read with a growing pause, at most a second apart, until exactly 3 s have passed
    assert image is not None
    assert image.status == "PROCESSING"
    assert time.pauses[:4] == [0.2, 0.4, 0.8, MAX_POLL_SECONDS]
    assert max(time.pauses) == MAX_POLL_SECONDS
    assert sum(time.pauses) == pytest.approx(3)
    assert time.now == pytest.approx(3)  # the last pause is cut to what was left, never past it


@pytest.mark.parametrize("status", list(ImageStatus))
def test_the_wait_ends_at_every_settled_status_and_only_there(status: ImageStatus) -> None:
    time = FakeTime()
    await_image(IMAGE, 5, describe=_reads(status), clock=time.clock, pause=time.pause)
    assert (time.pauses == []) == (status in SETTLED)
    assert (status in SETTLED) == (status not in {ImageStatus.PENDING, ImageStatus.PROCESSING})


def test_an_unknown_image_is_answered_at_once() -> None:
    time = FakeTime()
    assert await_image(IMAGE, 20, describe=lambda _: None, clock=time.clock, pause=time.pause) is None
    assert time.pauses == []


# ---------------------------------------------------------------- through the route
@pytest.fixture
def log(aws: SimpleNamespace) -> DynamoImageLog:
    return DynamoImageLog(aws.ImagesTable)


@pytest.fixture
def api(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("ApiFunction")


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def get(
    api: ModuleType, log: DynamoImageLog, time: FakeTime, lambda_context: Any
) -> Callable[..., tuple[int, dict[str, Any]]]:
    def request(query: str, seconds_left: float = 29.0) -> tuple[int, dict[str, Any]]:
        deps = ApiDeps(
            api.settings,
            S3ObjectStore(),
            log,
            RecordingEditStarter(),
            RecordingPublisher(),
            api.logger,
            seconds_left=lambda: seconds_left,
            push=api_push(),
            clock=time.clock,
            pause=time.pause,
        )
        api.app.append_context(deps=deps)
        response = api.app.resolve(gateway.proxy_event("GET", f"{URL}{query}", STAGE), lambda_context)
        return int(response["statusCode"]), json.loads(response["body"])

    return request


def _uploaded(log: DynamoImageLog) -> None:
    at = datetime.now(UTC) - timedelta(seconds=5)
    log.append(
        PipelineEvent.new(EventType.IMAGE_UPLOADED, image_id=IMAGE, producer="test", event_id=UPLOAD, occurred_at=at)
    )


def _answered(log: DynamoImageLog) -> None:
    for job in catalogue.JOBS:
        log.append(PipelineEvent.new(job.response, image_id=IMAGE, producer="test", causation_id=UPLOAD))


def test_a_request_that_waits_gets_the_image_as_soon_as_it_completes(
    get: Callable[..., tuple[int, dict[str, Any]]], log: DynamoImageLog, time: FakeTime
) -> None:
    # Given an image being processed, whose last answer arrives during the second pause
    _uploaded(log)
    time.at_pause = lambda pauses: _answered(log) if pauses == 2 else None
    # When a client asks for it with ?wait=20
    status, image = get("?wait=20")
    # Then it is answered COMPLETE at the first read after that, not after 20 s
    assert (status, image["status"]) == (200, "COMPLETE")
    assert len(time.pauses) == 2
    assert time.now < 1


@pytest.mark.parametrize("wait", [1, MAX_WAIT_SECONDS])
def test_a_wait_within_the_limit_answers_the_current_status_when_over(
    get: Callable[..., tuple[int, dict[str, Any]]], log: DynamoImageLog, time: FakeTime, wait: int
) -> None:
    _uploaded(log)
    status, image = get(f"?wait={wait}")
    assert (status, image["status"]) == (200, "PROCESSING")
    assert time.now == pytest.approx(wait)


def test_a_wait_never_outlasts_the_invocation(
    get: Callable[..., tuple[int, dict[str, Any]]], log: DynamoImageLog, time: FakeTime
) -> None:
    # Given an invocation with 10 s left (a slow cold start ate the rest)
    _uploaded(log)
    status, image = get(f"?wait={MAX_WAIT_SECONDS}", seconds_left=10)
    # Then the wait stops with room for the answer
    assert (status, image["status"]) == (200, "PROCESSING")
    assert time.now == pytest.approx(10 - WAIT_MARGIN_SECONDS)


def test_without_wait_the_image_is_answered_at_once(
    get: Callable[..., tuple[int, dict[str, Any]]], log: DynamoImageLog, time: FakeTime
) -> None:
    _uploaded(log)
    assert get("")[1]["status"] == "PROCESSING"
    assert time.pauses == []


def test_waiting_for_an_unknown_image_is_a_404_at_once(
    get: Callable[..., tuple[int, dict[str, Any]]], time: FakeTime
) -> None:
    assert get("?wait=20")[0] == 404
    assert time.pauses == []
