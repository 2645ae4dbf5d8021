"""Pushing status changes to an image's watchers: in order (never a status going back), the final
one with what GET /images/{id} answers, gone connections forgotten, and each push traced as
StatusPushed, an event that never changes the image's status."""

import json
from datetime import timedelta
from typing import Any

import pytest

from image_pipeline import contracts
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.image_api import Downloads
from image_pipeline.notify.changes import NotAStatusChange, StatusChange
from image_pipeline.notify.push import (
    MAX_MESSAGE_BYTES,
    OPENING_RETRY_DELAYS,
    OPENING_WINDOW,
    message,
    push_change,
    pushed_event,
)
from image_pipeline.notify.results import Results
from image_pipeline.pairing import derive_state, next_deadline, trace
from tests.fakes import InMemoryImageLog, InMemoryObjectStore
from tests.notify_fakes import InMemoryWatchers, RecordingPusher, connection_ids
from tests.notify_samples import EDIT, IMAGE, T0, as_eventbridge, processed_image, status_changed

TIMEOUT = timedelta(seconds=300)
LATER = T0 + timedelta(seconds=12)


@pytest.fixture
def images() -> InMemoryImageLog:
    log = InMemoryImageLog()
    processed_image(log)
    return log


@pytest.fixture
def results(images: InMemoryImageLog) -> Results:
    return Results(images, Downloads(InMemoryObjectStore(), "images-bucket", 3600), TIMEOUT)


LONG_OPEN = T0 - timedelta(minutes=5)  # admitted long before the changes: its handshake is over


@pytest.fixture
def watchers() -> InMemoryWatchers:
    registry = InMemoryWatchers(clock=lambda: T0)
    registry.add(IMAGE, "conn-a", admitted_at=LONG_OPEN, expires_at=T0 + timedelta(hours=2))
    registry.add(IMAGE, "conn-b", admitted_at=LONG_OPEN, expires_at=T0 + timedelta(hours=2))
    return registry


def _push(
    change_event: Any,
    watchers: InMemoryWatchers,
    pusher: RecordingPusher,
    results: Results,
    slept: list[float] | None = None,
) -> Any:
    change = StatusChange.from_eventbridge(as_eventbridge(change_event))
    naps = slept if slept is not None else []
    return push_change(
        change, watchers=watchers, pusher=pusher, describe=results.describe, clock=lambda: LATER, sleep=naps.append
    )


def _received(pusher: RecordingPusher, connection: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in pusher.to(connection)]


def test_every_watcher_hears_each_change_then_the_final_status_with_the_links_get_answers(
    watchers: InMemoryWatchers, results: Results
) -> None:
    # Given two connections watching an image
    pusher = RecordingPusher()
    # When the tracker announces PROCESSING, then COMPLETE
    _push(status_changed(1, "PROCESSING", previous="PENDING"), watchers, pusher, results)
    report = _push(status_changed(2, "COMPLETE", previous="PROCESSING", final=True), watchers, pusher, results)
    # Then both connections got both messages, in order
    for connection in ("conn-a", "conn-b"):
        received = _received(pusher, connection)
        assert [(m["version"], m["status"], m["final"]) for m in received] == [
            (1, "PROCESSING", False),
            (2, "COMPLETE", True),
        ]
        assert "image" not in received[0]  # links only with the final status
        final = received[1]
        # and the final one carries what GET /images/{id} answers, presigned links included
        assert final["image"] == results.describe(StatusChange.from_event(status_changed(2, "COMPLETE", final=True)))
        assert final["image"]["outputs"]["thumbnail"]["url"].startswith("https://")
        assert final["statusUrl"] == f"images/{IMAGE}"
        assert (final["imageId"], final["previous"], final["latencyMs"]) == (IMAGE, "PROCESSING", 4200)
    assert (report.watchers, report.delivered, report.gone, report.latency_ms) == (2, 2, 0, 2000)


def test_a_change_that_arrives_after_a_newer_one_is_not_pushed(watchers: InMemoryWatchers, results: Results) -> None:
    # EventBridge does not keep order: COMPLETE (version 3) arrives before PROCESSING (version 2)
    pusher = RecordingPusher()
    _push(status_changed(3, "COMPLETE", final=True), watchers, pusher, results)
    late = _push(status_changed(2, "PROCESSING"), watchers, pusher, results)
    assert late.skipped == "stale"
    assert [m["version"] for m in _received(pusher, "conn-a")] == [3]
    assert pushed_event(late, producer="NotifierFunction") is None


def test_the_same_change_delivered_twice_may_be_pushed_again_but_another_of_the_same_version_not(
    watchers: InMemoryWatchers, results: Results
) -> None:
    pusher = RecordingPusher()
    change = status_changed(2, "PROCESSING")
    _push(change, watchers, pusher, results)
    again = _push(change, watchers, pusher, results)  # a retried invocation: clients drop what they have
    assert again.skipped is None
    impostor = _push(status_changed(2, "FAILED", event_id="another-event"), watchers, pusher, results)
    assert impostor.skipped == "stale"


def test_an_edit_counts_its_versions_apart_from_the_image(watchers: InMemoryWatchers, results: Results) -> None:
    pusher = RecordingPusher()
    _push(status_changed(5, "COMPLETE", final=True), watchers, pusher, results)
    edit = _push(status_changed(1, "RUNNING", edit_id=EDIT, upload_version=None), watchers, pusher, results)
    assert edit.skipped is None
    last = _received(pusher, "conn-a")[-1]
    assert (last["type"], last["editId"], last["statusUrl"]) == (
        "EditStatusChanged",
        EDIT,
        f"images/{IMAGE}/edits/{EDIT}",
    )


def test_a_gone_connection_is_forgotten_at_once_and_the_others_still_hear(
    watchers: InMemoryWatchers, results: Results
) -> None:
    pusher, slept = RecordingPusher(gone={"conn-a"}), list[float]()
    report = _push(status_changed(1, "PROCESSING"), watchers, pusher, results, slept)
    assert (report.delivered, report.gone, report.opening) == (1, 1, 0)
    assert connection_ids(watchers.watching(IMAGE)) == ["conn-b"]
    assert _received(pusher, "conn-b")
    assert (pusher.refused, slept) == (["conn-a"], [])  # asked once, no waiting


# ---------------------------------------------------------------- a push racing a new watcher's handshake
def _new_watcher(watchers: InMemoryWatchers, admitted_at: Any) -> None:
    watchers.add(IMAGE, "new", admitted_at=admitted_at, expires_at=T0 + timedelta(hours=2))


def test_a_watcher_admitted_moments_ago_is_pushed_to_again_until_its_connection_opens(
    watchers: InMemoryWatchers, results: Results
) -> None:
    # Given a watcher $connect admitted a second ago, whose connection API Gateway has not opened yet
    _new_watcher(watchers, LATER - timedelta(seconds=1))
    pusher, slept = RecordingPusher(opening={"new": 2}), list[float]()  # 410, 410, then open
    # When a change is pushed
    report = _push(status_changed(1, "PENDING"), watchers, pusher, results, slept)
    # Then it is tried again, after a short wait each time, until it hears the change (once)
    assert [v["version"] for v in _received(pusher, "new")] == [1]
    assert slept == list(OPENING_RETRY_DELAYS[:2])
    assert pusher.refused == ["new", "new"]
    # and nobody else heard it twice
    assert [len(pusher.to(c)) for c in ("conn-a", "conn-b")] == [1, 1]
    assert (report.watchers, report.delivered, report.gone, report.opening) == (3, 3, 0, 0)
    assert connection_ids(watchers.watching(IMAGE)) == ["conn-a", "conn-b", "new"]


def test_a_watcher_still_opening_after_the_retries_is_kept_and_the_push_says_so(
    watchers: InMemoryWatchers, results: Results
) -> None:
    _new_watcher(watchers, LATER - timedelta(seconds=1))
    pusher, slept = RecordingPusher(opening={"new": 99}), list[float]()
    report = _push(status_changed(1, "PENDING"), watchers, pusher, results, slept)
    # tried once, then once after each wait (3.75 s in all, well inside the notifier's 10 s)
    assert slept == list(OPENING_RETRY_DELAYS)
    assert sum(OPENING_RETRY_DELAYS) < 5
    assert pusher.refused == ["new"] * (1 + len(OPENING_RETRY_DELAYS))
    # not forgotten: the next change tries it again ($disconnect or the TTL forget it if it never opens)
    assert connection_ids(watchers.watching(IMAGE)) == ["conn-a", "conn-b", "new"]
    assert (report.delivered, report.gone, report.opening) == (2, 0, 1)
    pushed = pushed_event(report, producer="NotifierFunction")
    assert pushed is not None
    assert (pushed.data["watchers"], pushed.data["delivered"], pushed.data["gone"], pushed.data["opening"]) == (
        3,
        2,
        0,
        1,
    )
    assert str(contracts.validate(pushed.type.value, pushed.detail())) == "StatusPushed v1"


def test_a_retry_never_follows_a_newer_change_to_the_watcher(watchers: InMemoryWatchers, results: Results) -> None:
    # Given a watcher not open yet when PENDING (version 1) is pushed
    _new_watcher(watchers, LATER - timedelta(seconds=1))
    pusher = RecordingPusher(opening={"new": 1})

    # When, during the wait before its retry, PROCESSING (version 2) is claimed and pushed
    def newer_change_meanwhile(_: float) -> None:
        _push(status_changed(2, "PROCESSING"), watchers, pusher, results)

    change = StatusChange.from_eventbridge(as_eventbridge(status_changed(1, "PENDING")))
    report = push_change(
        change,
        watchers=watchers,
        pusher=pusher,
        describe=results.describe,
        clock=lambda: LATER,
        sleep=newer_change_meanwhile,
    )
    # Then the retry of PENDING is dropped: the watcher hears PROCESSING only, never a status going back
    assert [m["version"] for m in _received(pusher, "new")] == [2]
    assert (report.delivered, report.gone, report.opening) == (2, 0, 1)
    assert "new" in connection_ids(watchers.watching(IMAGE))


@pytest.mark.parametrize(
    ("admitted_at", "opening"),
    [
        (LATER - OPENING_WINDOW + timedelta(microseconds=1), True),  # the last moment it may still be opening
        (LATER - OPENING_WINDOW, False),  # $connect's 29 s are over: a 410 means gone
        (None, False),  # admitted before admission times were kept
    ],
)
def test_a_410_means_gone_once_the_handshake_cannot_still_be_going_on(
    watchers: InMemoryWatchers, results: Results, admitted_at: Any, opening: bool
) -> None:
    _new_watcher(watchers, admitted_at)
    pusher, slept = RecordingPusher(gone={"new"}), list[float]()
    report = _push(status_changed(1, "PENDING"), watchers, pusher, results, slept)
    assert (report.gone, report.opening) == ((0, 1) if opening else (1, 0))
    assert bool(slept) is opening
    assert ("new" in connection_ids(watchers.watching(IMAGE))) is opening


def test_nobody_watching_means_no_push_and_no_trace_entry(results: Results) -> None:
    pusher = RecordingPusher()
    report = _push(status_changed(1, "PROCESSING"), InMemoryWatchers(clock=lambda: T0), pusher, results)
    assert (report.skipped, pusher.sent) == ("no watchers", [])
    assert pushed_event(report, producer="NotifierFunction") is None


def test_a_lapsed_connection_is_not_pushed_to(results: Results) -> None:
    registry = InMemoryWatchers(clock=lambda: T0)
    registry.add(IMAGE, "old", admitted_at=LONG_OPEN, expires_at=T0)  # lapsed at this very moment
    registry.add(IMAGE, "live", admitted_at=LONG_OPEN, expires_at=T0 + timedelta(seconds=1))
    pusher = RecordingPusher()
    _push(status_changed(1, "PROCESSING"), registry, pusher, results)
    assert [c for c, _ in pusher.sent] == ["live"]


def test_a_final_result_too_big_for_one_message_is_left_to_the_status_url() -> None:
    change = StatusChange.from_event(status_changed(2, "COMPLETE", final=True))
    small = json.loads(message(change, {"imageId": IMAGE, "blob": "x" * 1000}))
    assert small["image"]["blob"] == "x" * 1000
    just_fits = MAX_MESSAGE_BYTES - len(message(change, {"blob": ""}))
    assert len(message(change, {"blob": "x" * just_fits})) == MAX_MESSAGE_BYTES
    assert "image" in json.loads(message(change, {"blob": "x" * just_fits}))
    trimmed = json.loads(message(change, {"blob": "x" * (just_fits + 1)}))
    assert "image" not in trimmed
    assert trimmed["statusUrl"] == f"images/{IMAGE}"


# ---------------------------------------------------------------- StatusPushed
def test_each_push_is_a_status_pushed_event_that_keeps_its_contract(
    watchers: InMemoryWatchers, results: Results
) -> None:
    change = status_changed(2, "COMPLETE", final=True)
    report = _push(change, watchers, RecordingPusher(gone={"conn-b"}), results)
    pushed = pushed_event(report, producer="NotifierFunction")
    assert pushed is not None
    assert str(contracts.validate(pushed.type.value, pushed.detail())) == "StatusPushed v1"
    assert (pushed.image_id, pushed.causation_id) == (IMAGE, change.event_id)
    assert pushed.event_id == f"pushed:{change.event_id}"  # a retried push is recorded once
    assert pushed.data == {
        "status": "COMPLETE",
        "version": 2,
        "final": True,
        "watchers": 2,
        "delivered": 1,
        "gone": 1,
        "latencyMs": 2000,
    }


def test_status_pushed_and_webhook_attempted_never_change_an_images_status(images: InMemoryImageLog) -> None:
    # Given a complete image
    events = images.events(IMAGE)
    before = derive_state(events, TIMEOUT)
    # When pushes and webhook attempts are recorded against it (with the change as their cause)
    change = status_changed(3, "COMPLETE", final=True, at=20)
    told = [
        change,
        *(
            PipelineEvent.new(
                kind, image_id=IMAGE, producer="test", causation_id=change.event_id, occurred_at=T0 + offset
            )
            for kind, offset in (
                (EventType.STATUS_PUSHED, timedelta(seconds=21)),
                (EventType.WEBHOOK_ATTEMPTED, timedelta(seconds=22)),
            )
        ),
    ]
    after = derive_state([*events, *told], TIMEOUT)
    # Then its status, deadline and missing responses are what they were, and the trace shows them
    assert (after.status, after.missing, after.reason_code) == (before.status, before.missing, before.reason_code)
    assert next_deadline([*events, *told], TIMEOUT) == next_deadline(events, TIMEOUT)
    assert [entry.event.type for entry in trace([*events, *told])][-2:] == [
        EventType.STATUS_PUSHED,
        EventType.WEBHOOK_ATTEMPTED,
    ]


# ---------------------------------------------------------------- reading the tracker's announcements
@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"version": None}, "version"),
        ({"version": 0}, "version"),  # versions start at 1
        ({"status": ""}, "status"),
        ({"status": "DONE"}, "status"),
        ({"final": "yes"}, "final"),
        ({"editId": EDIT}, "editId"),  # an image's change names no edit
    ],
)
def test_a_broken_status_change_is_refused_with_what_broke(broken: dict[str, Any], problem: str) -> None:
    # Given the tracker's announcement with one field broken
    event = as_eventbridge(status_changed(1, "COMPLETE", final=True))
    event["detail"]["data"] |= broken
    # Then it is refused, naming that field
    with pytest.raises(NotAStatusChange, match=problem):
        StatusChange.from_eventbridge(event)


def test_a_status_change_from_anyone_but_the_tracker_is_refused() -> None:
    # (a role that may put events on the bus cannot make the notifier push, or the sender POST, for it)
    forged = as_eventbridge(status_changed(1, "COMPLETE", final=True))
    forged["detail"]["metadata"]["producer"] = "ApiFunction"
    with pytest.raises(NotAStatusChange, match="TrackerFunction"):
        StatusChange.from_eventbridge(forged)
    assert StatusChange.from_eventbridge(as_eventbridge(status_changed(1, "COMPLETE", final=True))).version == 1


def test_other_pipeline_events_are_not_status_changes() -> None:
    other = as_eventbridge(status_changed(1, "COMPLETE"))
    other["detail-type"] = "ThumbnailCreated"
    with pytest.raises(NotAStatusChange, match="not a status change"):
        StatusChange.from_eventbridge(other)
    with pytest.raises(NotAStatusChange):
        StatusChange.from_eventbridge({"detail-type": "ImageStatusChanged"})
