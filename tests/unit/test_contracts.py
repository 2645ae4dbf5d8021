"""The schema registry is the one source of the event contracts: the producers' events keep them,
a breaking change fails here, and the template's IAM conditions, the tracker's owner check and the
README all follow the same owner map."""

import copy
import io
import json
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import fastjsonschema
import pytest
from PIL import Image

from image_pipeline import contracts
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.catalogue import JOBS, Job
from image_pipeline.events import EventMetadata, EventType, PipelineEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.intake import Intake
from image_pipeline.processing import UploadResponder
from image_pipeline.tracker import sweep_overdue
from image_pipeline.uploads import UploadedObject, parse_uploads
from tests import samples
from tests.conftest import load_event
from tests.fakes import InMemoryImageLog, InMemoryObjectStore, RecordingPublisher
from tests.template import ROOT
from tools.schemas import markdown_table

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
DRAFT4 = "http://json-schema.org/draft-04/schema#"


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((320, 200)).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


# ---------------------------------------------------------------- the registry itself
def test_every_owned_event_type_has_a_schema_and_every_schema_an_owner() -> None:
    registered = {s.detail_type for s in contracts.registered()}
    assert registered == set(contracts.OWNERS)
    assert all(contracts.SchemaId(t, 1).file.is_file() for t in contracts.OWNERS)


@pytest.mark.parametrize("sid", contracts.registered(), ids=str)
def test_each_schema_is_a_self_contained_draft4_schema_of_the_whole_detail(sid: contracts.SchemaId) -> None:
    schema = contracts.schema(sid.detail_type, sid.version)
    assert schema["$schema"] == DRAFT4  # what EventBridge's schema registry takes (JSONSchemaDraft4)
    assert schema["required"] == ["metadata", "data"]
    assert schema["description"], "say what the event means: the README table shows it"
    assert "$ref" not in json.dumps(schema).replace('"$ref": "#/', "")  # only local references
    fastjsonschema.compile(schema)  # raises on an invalid schema


def test_a_sample_event_validates_and_a_broken_one_says_what_broke() -> None:
    event = load_event("app-thumbnail-created.json")
    assert str(contracts.validate(event["detail-type"], event["detail"])) == "ThumbnailCreated v1"
    broken = copy.deepcopy(event["detail"])
    broken["data"]["outputs"][0]["width"] = "256"
    with pytest.raises(contracts.ContractViolation, match=r"detail\.data\.outputs\[0\]\.width must be integer") as e:
        contracts.validate("ThumbnailCreated", broken)
    assert e.value.reason == "schema_mismatch"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["metadata"].pop("correlationId"), "schema_mismatch"),
        (lambda d: d["metadata"].update(occurredAt="yesterday"), "schema_mismatch"),
        (lambda d: d.pop("data"), "schema_mismatch"),
        (lambda d: d["metadata"].update(schemaVersion=2), "unknown_schema"),
        (lambda d: d["metadata"].update(schemaVersion="1"), "bad_schema_version"),
        (lambda d: d["metadata"].update(producer="AnalyzeFunction"), "foreign_producer"),
    ],
    ids=["no-correlation-id", "bad-time", "no-data", "unknown-version", "version-not-int", "foreign-producer"],
)
def test_a_broken_envelope_is_refused_with_a_stable_reason(change: Any, reason: str) -> None:
    detail = copy.deepcopy(load_event("app-thumbnail-created.json")["detail"])
    change(detail)
    with pytest.raises(contracts.ContractViolation) as refused:
        contracts.validate("ThumbnailCreated", detail)
    assert refused.value.reason == reason


def test_unknown_types_and_non_objects_are_refused() -> None:
    with pytest.raises(contracts.ContractViolation, match="not an event type") as refused:
        contracts.validate("ImageTeleported", {})
    assert refused.value.reason == "unknown_type"
    with pytest.raises(contracts.ContractViolation, match="JSON object"):
        contracts.validate("ThumbnailCreated", ["not", "an", "object"])


# ---------------------------------------------------------------- the producers keep their contracts
@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_every_answer_a_job_publishes_keeps_its_contract(
    aws: SimpleNamespace, job: Job, load_handler: Callable[..., ModuleType]
) -> None:
    # the job's operation as its function runs it (recognition: by the bundled model, offline)
    handler = load_handler(job.function, RECOGNITION_BACKEND="onnx")
    (runner,) = [v for v in vars(handler).values() if isinstance(v, JobRunner)]
    publisher = RecordingPublisher()
    responder = UploadResponder(
        S3ObjectStore(), publisher, aws.ImagesBucket, ImageLimits(), job.function, operations=runner.operations
    )
    (announced,) = parse_uploads(_event_for(aws.ImagesBucket), function=job.function).uploads
    s3 = boto3.client("s3")

    def upload(body: bytes) -> UploadedObject:
        etag = s3.put_object(Bucket=aws.ImagesBucket, Key=announced.key, Body=body)["ETag"].strip('"')
        return announced.model_copy(update={"etag": etag})

    # a good image, a broken one, one replaced before it was read, then a vanished one
    for body in (_photo(), b"not an image"):
        responder.respond(upload(body), job)
    replaced = upload(b"first")
    upload(_photo())
    responder.respond(replaced, job)
    s3.delete_object(Bucket=aws.ImagesBucket, Key=announced.key)
    responder.respond(announced, job)
    assert publisher.types() == [job.response.value, "ImageRejected", "UploadSuperseded", "ImageProcessingFailed"]
    for event in publisher.published:
        contracts.validate(event.type.value, event.detail())


def _event_for(bucket: str) -> dict[str, Any]:
    event = load_event("object-created.json")
    event["detail"]["bucket"]["name"] = bucket
    return event


def test_the_intake_sweeper_and_api_events_keep_their_contracts() -> None:
    store, images, publisher = InMemoryObjectStore(), InMemoryImageLog(), RecordingPublisher()
    (announced,) = parse_uploads(load_event("object-created.json"), function="IntakeFunction").uploads
    store.put(announced.bucket, announced.key, b"bytes", content_type="image/jpeg", metadata={})
    uploaded = Intake(store, images, publisher).register(announced.model_copy(update={"etag": None}))
    images.append(uploaded)
    images.set_deadline(IMAGE, announced.uploaded_at, seen=len(images.events(IMAGE)))
    requested = PipelineEvent.new(
        EventType.UPLOAD_REQUESTED,
        image_id="e" * 32,
        producer="ApiFunction",
        occurred_at=announced.uploaded_at,
        data={
            "key": f"uploads/{'e' * 32}.jpg",
            "contentType": "image/jpeg",
            "maxBytes": 1024,
            "expiresAt": announced.uploaded_at.isoformat(),
        },
    )
    images.append(requested)
    images.set_deadline("e" * 32, announced.uploaded_at, seen=1)
    swept = sweep_overdue(
        images,
        publisher,
        now=announced.uploaded_at + timedelta(minutes=10),
        stall_timeout=timedelta(minutes=5),
        producer="StallSweeper",
    )
    assert [e.type.value for e in (*swept.stalled, *swept.expired)] == ["ImageProcessingStalled", "UploadExpired"]
    for event in (uploaded, requested, *swept.stalled, *swept.expired):
        contracts.validate(event.type.value, event.detail())


# ---------------------------------------------------------------- one owner map for code and docs
def test_the_readme_table_of_events_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate it: python -m tools.schemas table"


def test_the_envelope_requires_every_field_the_code_needs_to_read_an_event() -> None:
    # An event the hub lets through must be one every consumer's code can read: what the envelope
    # model cannot do without, the schema must require (else a valid.* event breaks its readers).
    envelope = json.loads((contracts.SCHEMAS / contracts.ENVELOPE).read_text())
    needed = {field.alias for field in EventMetadata.model_fields.values() if field.is_required()}
    assert needed
    assert needed <= set(envelope["properties"]["metadata"]["required"])
    assert {"metadata", "data"} <= set(envelope["required"])
    for field in needed:
        detail = copy.deepcopy(load_event("app-thumbnail-created.json")["detail"])
        del detail["metadata"][field]
        with pytest.raises(contracts.ContractViolation):
            contracts.validate("ThumbnailCreated", detail)


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_every_event_type_of_the_catalogue_has_a_schema_and_a_sample_that_keeps_it(event_type: EventType) -> None:
    sample = samples.event(event_type)
    assert str(contracts.validate(event_type.value, sample.detail())) == f"{event_type.value} v1"
