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
from image_pipeline.notify.push import MAX_MESSAGE_BYTES, message, push_change, pushed_event
from image_pipeline.notify.results import Results
from image_pipeline.pairing import derive_state, next_deadline, trace
from tests.fakes import InMemoryImageLog, InMemoryObjectStore
from tests.notify_fakes import InMemoryWatchers, RecordingPusher
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


@pytest.fixture
def watchers() -> InMemoryWatchers:
    registry = InMemoryWatchers(clock=lambda: T0)
    registry.add(IMAGE, "conn-a", expires_at=T0 + timedelta(hours=2))
    registry.add(IMAGE, "conn-b", expires_at=T0 + timedelta(hours=2))
    return registry


def _push(change_event: Any, watchers: InMemoryWatchers, pusher: RecordingPusher, results: Results) -> Any:
    change = StatusChange.from_eventbridge(as_eventbridge(change_event))
    return push_change(change, watchers=watchers, pusher=pusher, describe=results.describe, clock=lambda: LATER)


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


def test_a_gone_connection_is_forgotten_and_the_others_still_hear(watchers: InMemoryWatchers, results: Results) -> None:
    pusher = RecordingPusher(gone={"conn-a"})
    report = _push(status_changed(1, "PROCESSING"), watchers, pusher, results)
    assert (report.delivered, report.gone) == (1, 1)
    assert watchers.watching(IMAGE) == ["conn-b"]
    assert _received(pusher, "conn-b")


def test_nobody_watching_means_no_push_and_no_trace_entry(results: Results) -> None:
    pusher = RecordingPusher()
    report = _push(status_changed(1, "PROCESSING"), InMemoryWatchers(clock=lambda: T0), pusher, results)
    assert (report.skipped, pusher.sent) == ("no watchers", [])
    assert pushed_event(report, producer="NotifierFunction") is None


def test_a_lapsed_connection_is_not_pushed_to(results: Results) -> None:
    registry = InMemoryWatchers(clock=lambda: T0)
    registry.add(IMAGE, "old", expires_at=T0)  # lapsed at this very moment
    registry.add(IMAGE, "live", expires_at=T0 + timedelta(seconds=1))
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
