"""The Rekognition adapter against the service's documented request and response shapes (botocore's
Stubber, checked against botocore's own service model), its input limits, each of its errors, and
throttling retried by botocore itself."""

import io
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber
from PIL import Image

from image_pipeline.aws import rekognition
from image_pipeline.aws.rekognition import RekognitionRecognizer, input_plan
from image_pipeline.imaging import ImageLimits, ImageRejected
from image_pipeline.imaging.guard import Source
from image_pipeline.ports import ObjectLocation, UploadImage
from image_pipeline.recognition import Box, Face, RecognitionMisconfigured, RecognitionUnavailable
from tests.rekognition import FACES, LABELS, MODERATION, THROTTLED, served_client

BUCKET = "test-imagesbucket"
KEY = "uploads/3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b.jpg"
LOCATION = ObjectLocation(BUCKET, KEY, "0123456789abcdef0123456789abcdef")
MIB = 1024 * 1024


def _image(size: tuple[int, int], fmt: str = "JPEG", **save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buffer, fmt, **save)
    return buffer.getvalue()


def _sideways_png() -> bytes:
    """A PNG stored 200x300 with EXIF orientation 6: upright it is 300x200."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _image((200, 300), "PNG", exif=exif.tobytes())


@pytest.fixture
def client() -> Any:
    return boto3.client("rekognition", region_name="us-east-1")


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _expect_all(stubber: Stubber, image: Any, moderation_from: float = 50.0) -> None:
    stubber.add_response(
        "detect_labels",
        LABELS,
        {"Image": image, "MaxLabels": 50, "MinConfidence": 55.0, "Features": ["GENERAL_LABELS"]},
    )
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": image, "MinConfidence": moderation_from})
    stubber.add_response("detect_faces", FACES, {"Image": image, "Attributes": ["DEFAULT"]})


def _sent_images(client: Any) -> list[dict[str, Any]]:
    """Records the Image parameter of every call the client makes."""
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.rekognition.*", lambda params, **_: sent.append(params["Image"]))
    return sent


# ---------------------------------------------------------------- requests and responses
def test_an_upload_that_fits_is_read_by_rekognition_from_s3_and_every_finding_is_kept(
    client: Any, stubber: Stubber
) -> None:
    # Given a JPEG upload Rekognition can read where it is stored
    _expect_all(stubber, {"S3Object": {"Bucket": BUCKET, "Name": KEY}}, moderation_from=30.0)
    upload = UploadImage(_image((640, 427)), LOCATION)
    # When it is recognized (moderation labels wanted from 30 %)
    findings = RekognitionRecognizer(client, moderation_from=0.3).recognize(upload, ImageLimits())
    # Then Rekognition was pointed at the object (no pixels sent) and every finding is a fraction
    assert findings.input == "s3-object"
    assert [(label.name, label.confidence, label.parents) for label in findings.labels or ()] == [
        ("Car", 0.9915, ("Transportation", "Vehicle")),
        ("Transportation", 0.9915, ()),
    ]
    assert [(m.name, m.parent, m.level) for m in findings.moderation or ()] == [
        ("Suggestive", None, 1),
        ("Swimwear or Underwear", "Suggestive", 2),
        ("Female Swimwear or Underwear", "Swimwear or Underwear", 3),
    ]
    assert findings.faces == (
        Face(Box(0.5556, 0.3367, 0.24, 0.18), 0.9999),
        Face(Box(0.0, 0.8, 0.15, 0.2), 0.91),  # the part inside the picture of a face cut off at the left
    )
    assert findings.model == "DetectLabels 3.0, DetectModerationLabels 7.0"


def test_without_its_location_a_fitting_upload_is_sent_as_its_own_bytes(client: Any, stubber: Stubber) -> None:
    data = _image((640, 427))
    _expect_all(stubber, {"Bytes": data})
    findings = RekognitionRecognizer(client).recognize(UploadImage(data), ImageLimits())
    assert findings.input == "bytes"


@pytest.mark.parametrize(
    ("data", "upright", "format_name"),
    [
        (_image((300, 200), "WEBP"), (300, 200), "WEBP"),
        (_image((300, 200), "GIF"), (300, 200), "GIF"),
        (_sideways_png(), (300, 200), "PNG"),  # Rekognition would not turn a PNG upright
        (_image((60, 40)), (120, 80), "JPEG"),  # under 80 px a side: scaled up to 80
        (_image((3000, 1000)), (2048, 683), "JPEG"),  # too big for the bytes path without its location
    ],
    ids=["webp", "gif", "png-exif-6", "too-small", "large-without-location"],
)
def test_what_rekognition_cannot_read_is_sent_as_an_upright_jpeg_rendition(
    data: bytes,
    upright: tuple[int, int],
    format_name: str,
    client: Any,
    stubber: Stubber,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an upload Rekognition cannot read as stored (the large one: one byte over the bytes limit)
    if upright == (2048, 683):
        monkeypatch.setattr(rekognition, "MAX_BYTES", len(data) - 1)
    sent = _sent_images(client)
    _expect_all(stubber, {"Bytes": ANY})
    # When it is recognized
    findings = RekognitionRecognizer(client).recognize(UploadImage(data), ImageLimits())
    # Then the three calls were sent one upright JPEG, within Rekognition's limits
    assert len(sent) == 3
    assert sent[0] == sent[1] == sent[2]
    rendition = sent[0]["Bytes"]
    assert len(rendition) <= rekognition.MAX_BYTES
    with Image.open(io.BytesIO(rendition)) as seen:
        assert (seen.format, seen.size) == ("JPEG", upright)
        assert seen.getexif().get(0x0112) is None
    assert findings.input == f"rendition {upright[0]}x{upright[1]} JPEG of a {format_name}"


def _source(width: int, height: int, fmt: str = "JPEG", *, frames: int = 1, orientation: int = 1) -> Source:
    return Source(fmt, width, height, "RGB", frames, orientation, 0)


@pytest.mark.parametrize(
    ("source", "size", "located", "plan"),
    [
        (_source(640, 480), 15 * MIB - 1, True, "s3-object"),
        (_source(640, 480), 15 * MIB, True, "s3-object"),
        (_source(640, 480), 15 * MIB + 1, True, "rendition"),
        (_source(640, 480), 5 * MIB - 1, False, "bytes"),
        (_source(640, 480), 5 * MIB, False, "bytes"),
        (_source(640, 480), 5 * MIB + 1, False, "rendition"),
        (_source(640, 79), 1000, True, "rendition"),
        (_source(640, 80), 1000, True, "s3-object"),
        (_source(81, 640), 1000, True, "s3-object"),
        (_source(9999, 480), 1000, True, "s3-object"),
        (_source(10_000, 480), 1000, True, "s3-object"),
        (_source(480, 10_001), 1000, True, "rendition"),
        (_source(640, 480, "PNG"), 1000, True, "s3-object"),
        (_source(640, 480, "PNG", orientation=6), 1000, True, "rendition"),
        (_source(640, 480, "JPEG", orientation=6), 1000, True, "s3-object"),  # Rekognition turns it upright
        (_source(640, 480, "PNG", frames=2), 1000, True, "rendition"),
        (_source(640, 480, "WEBP"), 1000, True, "rendition"),
    ],
)
def test_the_upload_goes_to_rekognition_as_stored_only_within_its_limits(
    source: Source, size: int, located: bool, plan: str
) -> None:
    image = UploadImage(b"\0" * size, LOCATION if located else None)
    assert input_plan(source, image) == plan


def test_an_image_no_rendition_can_fit_is_rejected_as_unrecognizable(client: Any, stubber: Stubber) -> None:
    # 10,000 x 60 px: 80 px high would be 13,333 px wide, over the rendition's 2,048
    with pytest.raises(ImageRejected) as rejected:
        RekognitionRecognizer(client).recognize(UploadImage(_image((10_000, 60)), LOCATION), ImageLimits())
    assert rejected.value.reason == "unrecognizable"
    assert "10000x60 px" in str(rejected.value)


def test_bytes_the_pipeline_refuses_are_rejected_before_any_call(client: Any, stubber: Stubber) -> None:
    with pytest.raises(ImageRejected) as rejected:
        RekognitionRecognizer(client).recognize(UploadImage(b"<html>not an image</html>", LOCATION), ImageLimits())
    assert rejected.value.reason == "unsupported_format"


# ---------------------------------------------------------------- the service's errors
@pytest.mark.parametrize(
    "code",
    ["InvalidS3ObjectException", "InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"],
)
def test_an_upload_refused_as_stored_is_sent_again_as_a_rendition(code: str, client: Any, stubber: Stubber) -> None:
    # Given Rekognition refuses to read the stored object (unreadable, or a JPEG it does not take)
    stubber.add_client_error("detect_labels", service_error_code=code, http_status_code=400)
    _expect_all(stubber, {"Bytes": ANY})
    # When the upload is recognized
    findings = RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())
    # Then its rendition was recognized instead
    assert findings.input == "rendition 640x427 JPEG of a JPEG"
    assert findings.labels


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"])
def test_a_rendition_rekognition_refuses_is_rejected_as_unrecognizable(
    code: str, client: Any, stubber: Stubber
) -> None:
    stubber.add_client_error("detect_labels", service_error_code=code, service_message="no", http_status_code=400)
    with pytest.raises(ImageRejected) as rejected:
        RekognitionRecognizer(client).recognize(UploadImage(_image((300, 200), "WEBP"), LOCATION), ImageLimits())
    assert rejected.value.reason == "unrecognizable"
    assert code in str(rejected.value)


@pytest.mark.parametrize(
    ("operation", "code", "status", "outcome", "says"),
    [
        ("detect_labels", "ThrottlingException", 400, RecognitionUnavailable, "after retries"),
        ("detect_moderation_labels", "ProvisionedThroughputExceededException", 400, RecognitionUnavailable, "after"),
        ("detect_faces", "InternalServerError", 500, RecognitionUnavailable, "after retries"),
        ("detect_labels", "AccessDeniedException", 400, RecognitionMisconfigured, "grant the function"),
        ("detect_moderation_labels", "ResourceNotFoundException", 400, RecognitionMisconfigured, "does not exist"),
        ("detect_labels", "UnrecognizedClientException", 400, RecognitionMisconfigured, "credentials"),
    ],
)
def test_each_service_error_has_one_clear_outcome(
    operation: str, code: str, status: int, outcome: type[Exception], says: str, client: Any, stubber: Stubber
) -> None:
    # Given the calls before ``operation`` succeed and it fails with the service's error
    calls = ["detect_labels", "detect_moderation_labels", "detect_faces"]
    for earlier in calls[: calls.index(operation)]:
        stubber.add_response(earlier, {"detect_labels": LABELS, "detect_moderation_labels": MODERATION}[earlier])
    stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
    # Then the outcome is a retryable failure or a configuration error, never a rejection
    with pytest.raises(outcome, match=says):
        RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())


def test_an_error_it_does_not_know_is_raised_as_it_came(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error("detect_labels", service_error_code="SomethingNewException", http_status_code=400)
    with pytest.raises(ClientError, match="SomethingNewException"):
        RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())


# ---------------------------------------------------------------- retries (botocore's own, not stubbed)
@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once: the tests count attempts, they do not wait for them."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)


def test_throttling_is_retried_by_botocore_until_rekognition_answers(no_backoff: None) -> None:
    # Given Rekognition throttles DetectLabels twice, then answers
    client, sends = served_client(
        {
            "DetectLabels": [THROTTLED, THROTTLED, (200, LABELS)],
            "DetectModerationLabels": [(200, MODERATION)],
            "DetectFaces": [(200, FACES)],
        }
    )
    # When an upload is recognized
    findings = RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())
    # Then the third attempt's labels are the answer, and nothing else was asked twice
    assert findings.labels is not None
    assert findings.labels[0].name == "Car"
    assert sends == {"DetectLabels": 3, "DetectModerationLabels": 1, "DetectFaces": 1}


def test_throttling_past_the_retries_leaves_the_upload_for_lambda_to_retry(no_backoff: None) -> None:
    client, sends = served_client({"DetectLabels": [THROTTLED]})
    with pytest.raises(RecognitionUnavailable, match="ThrottlingException"):
        RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())
    assert sends["DetectLabels"] == rekognition.RETRY_ATTEMPTS == 4


def test_an_unreachable_service_is_retried_then_named_with_the_way_out(
    no_backoff: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def unreachable(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    client = boto3.client("rekognition", region_name="us-east-1", config=rekognition.CLIENT_CONFIG)
    client.meta.events.register("before-send.rekognition", unreachable)
    with pytest.raises(RecognitionUnavailable, match="RecognitionBackend=onnx"):
        RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())
    assert len(attempts) == rekognition.RETRY_ATTEMPTS


def test_the_requests_match_botocores_model_of_the_service(client: Any) -> None:
    # Stubber validates every request against the service model; this pins the three operations
    # and the members this adapter relies on, so a model change that drops one fails here.
    model = client.meta.service_model
    for operation, members in {
        "DetectLabels": {"Image", "MaxLabels", "MinConfidence", "Features"},
        "DetectModerationLabels": {"Image", "MinConfidence"},
        "DetectFaces": {"Image", "Attributes"},
    }.items():
        assert members <= set(model.operation_model(operation).input_shape.members)
    label = model.shape_for("ModerationLabel").members
    assert {"Name", "Confidence", "ParentName", "TaxonomyLevel"} <= set(label)
    assert model.shape_for("ImageBlob").metadata["max"] == rekognition.MAX_BYTES
    errors: Callable[[str], set[str]] = lambda op: {e.name for e in model.operation_model(op).error_shapes}  # noqa: E731
    documented = errors("DetectLabels") | errors("DetectModerationLabels") | errors("DetectFaces")
    handled = set(rekognition._REFUSED) | set(rekognition._TRANSIENT) | set(rekognition._MISCONFIGURED)
    assert documented - handled == set(), "an error the service documents has no outcome"


def test_the_adapters_own_client_retries_as_the_retry_tests_assume() -> None:
    config: Any = RekognitionRecognizer()._client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": rekognition.RETRY_ATTEMPTS}
    assert config.read_timeout == 10


def test_an_upload_costs_exactly_the_calls_the_adapter_declares() -> None:
    # OPERATIONS is what the function's role is granted and what the README prices: one each
    client, sends = served_client({operation: [(200, {})] for operation in rekognition.OPERATIONS})
    RekognitionRecognizer(client).recognize(UploadImage(_image((640, 427)), LOCATION), ImageLimits())
    assert sends == dict.fromkeys(rekognition.OPERATIONS, 1)
