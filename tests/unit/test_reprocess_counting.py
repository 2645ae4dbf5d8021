"""The aggregates count what make reprocess makes apart from what new uploads make: its answers
add to ``reprocessed.*`` and never to the uploads' counters."""

from image_pipeline.catalogue import EventType
from image_pipeline.hub.aggregates import DailyStats, event_counters
from tests import samples

OUTPUTS = [{**samples.DATA[EventType.RENDITIONS_CREATED]["outputs"][0], "bytes": 1000}] * 3


def test_an_uploads_renditions_count_as_the_uploads_work() -> None:
    answer = samples.event(EventType.RENDITIONS_CREATED, outputs=OUTPUTS, specVersion="aaaaaaaaaaaa")
    assert event_counters(answer) == {"events.RenditionsCreated": 1, "bytesOut": 3000}


def test_a_reprocess_answer_counts_as_reprocessing_only() -> None:
    answer = samples.event(EventType.RENDITIONS_CREATED, outputs=OUTPUTS, specVersion="bbbbbbbbbbbb", reprocess=True)
    assert event_counters(answer) == {
        "events.RenditionsCreated": 1,
        "reprocessed.renditions": 1,
        "reprocessed.bytesOut": 3000,
    }


def test_a_reprocess_rejection_is_not_an_uploads_rejection() -> None:
    refused = samples.event(EventType.IMAGE_REJECTED, reason="truncated", reprocess=True)
    assert event_counters(refused) == {"events.ImageRejected": 1, "reprocessed.rejects.truncated": 1}
    live = samples.event(EventType.IMAGE_REJECTED, reason="truncated")
    assert event_counters(live) == {"events.ImageRejected": 1, "rejects.truncated": 1}


def test_the_requests_are_counted_by_type() -> None:
    assert event_counters(samples.event(EventType.REPROCESS_REQUESTED)) == {"events.ReprocessRequested": 1}


def test_a_day_shows_reprocessing_beside_the_uploads() -> None:
    day = DailyStats.from_counters(
        "2026-11-22",
        {"bytesOut": 10, "reprocessed.renditions": 4, "reprocessed.bytesOut": 4000, "events.ReprocessRequested": 5},
    )
    assert day.bytes_out == 10
    assert day.reprocessed == {"bytesOut": 4000, "renditions": 4}
    assert day.to_dict()["reprocessed"] == {"bytesOut": 4000, "renditions": 4}
    assert day.events == {"ReprocessRequested": 5}
