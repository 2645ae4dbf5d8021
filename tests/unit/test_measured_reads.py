"""A job's BytesIn is what it read for this upload: a read that fails (the upload vanished or was
replaced) reports 0, never the size of the upload the same warm worker answered before."""

import json
from typing import Any

import pytest

from image_pipeline.aws.observability import measured
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.ports import ObjectMissing
from tests.fakes import InMemoryObjectStore, RecordingPublisher


def _bytes_in(output: str) -> list[float]:
    records: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines() if '"BytesIn"' in line]
    return [r["BytesIn"][0] if isinstance(r["BytesIn"], list) else r["BytesIn"] for r in records]


def _answer(kind: EventType, **data: str) -> PipelineEvent:
    return PipelineEvent.new(kind, image_id="a" * 32, producer="test", data={"job": "thumbnail", **data})


def test_a_failed_read_after_a_good_one_reports_no_bytes_in(capsys: pytest.CaptureFixture[str]) -> None:
    inner = InMemoryObjectStore()
    inner.put("b", "uploads/big.jpg", b"x" * 5000, content_type="image/jpeg", metadata={})
    store, publisher = measured(inner, RecordingPublisher())
    # Given a worker that answered a 5000-byte upload
    store.get("b", "uploads/big.jpg")
    publisher.publish([_answer(EventType.THUMBNAIL_CREATED)])
    # When its next upload has vanished before it could be read
    with pytest.raises(ObjectMissing):
        store.get("b", "uploads/gone.jpg")
    publisher.publish([_answer(EventType.IMAGE_PROCESSING_FAILED, reason="source_missing")])
    # Then the failure's BytesIn is 0, not the previous upload's 5000
    assert _bytes_in(capsys.readouterr().out) == [5000.0, 0.0]
