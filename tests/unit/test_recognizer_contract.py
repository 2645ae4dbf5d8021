"""One contract for the Recognizer port, run against every backend (Rekognition on its documented
HTTP answers, the bundled model, off) and against the test fake, so none can drift."""

import io
from collections.abc import Callable

import pytest
from PIL import Image

from image_pipeline.aws.rekognition import RekognitionRecognizer
from image_pipeline.imaging import ImageLimits, ImageRejected
from image_pipeline.offline.open_nsfw import OpenNsfwModeration
from image_pipeline.ports import ObjectLocation, UploadImage
from image_pipeline.recognition import (
    BACKENDS,
    Face,
    Findings,
    Label,
    ModerationLabel,
    RecognitionOff,
    Recognizer,
)
from tests.fakes import CannedRecognizer
from tests.rekognition import FACES, LABELS, MODERATION, served_client

LOCATION = ObjectLocation("test-imagesbucket", "uploads/0123456789abcdef0123456789abcdef.jpg", "etag")


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((640, 427)).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def _rekognition() -> Recognizer:
    client, _ = served_client(
        {
            "DetectLabels": [(200, LABELS)],
            "DetectModerationLabels": [(200, MODERATION)],
            "DetectFaces": [(200, FACES)],
        }
    )
    return RekognitionRecognizer(client)


def _fake() -> Recognizer:
    return CannedRecognizer(
        Findings("rekognition", (Label("Cup", 0.9),), (), (ModerationLabel("Suggestive", 0.1, None, 1),))
    )


BACKEND_FACTORIES: dict[str, Callable[[], Recognizer]] = {
    "rekognition": _rekognition,
    "onnx": OpenNsfwModeration,
    "off": RecognitionOff,
    "fake": _fake,
}
# The backends that read the image (the others answer without looking at it).
READERS = ("rekognition", "onnx")


@pytest.fixture(params=list(BACKEND_FACTORIES))
def named(request: pytest.FixtureRequest) -> tuple[str, Recognizer]:
    return request.param, BACKEND_FACTORIES[request.param]()


def test_a_recognizer_names_itself_in_what_it_finds(named: tuple[str, Recognizer]) -> None:
    _, recognizer = named
    findings = recognizer.recognize(UploadImage(_jpeg(), LOCATION), ImageLimits())
    assert findings.backend == recognizer.backend
    assert findings.backend in BACKENDS


def test_each_finding_is_either_not_available_or_a_list_of_its_kind(named: tuple[str, Recognizer]) -> None:
    _, recognizer = named
    findings = recognizer.recognize(UploadImage(_jpeg(), LOCATION), ImageLimits())
    for found, kind in ((findings.labels, Label), (findings.faces, Face), (findings.moderation, ModerationLabel)):
        assert found is None or (isinstance(found, tuple) and all(isinstance(item, kind) for item in found))


def test_the_same_upload_gets_the_same_findings(named: tuple[str, Recognizer]) -> None:
    _, recognizer = named
    upload = UploadImage(_jpeg(), LOCATION)
    assert recognizer.recognize(upload, ImageLimits()) == recognizer.recognize(upload, ImageLimits())


def test_a_backend_that_reads_the_image_refuses_bytes_the_pipeline_refuses(named: tuple[str, Recognizer]) -> None:
    name, recognizer = named
    if name not in READERS:
        pytest.skip(f"{name} does not read the image")
    with pytest.raises(ImageRejected) as rejected:
        recognizer.recognize(UploadImage(b"GIF87a" + b"\0" * 10, LOCATION), ImageLimits())
    assert rejected.value.reason == "corrupt"
