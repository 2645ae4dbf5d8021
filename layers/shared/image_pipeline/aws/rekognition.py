"""Rekognition adapter: labels, faces and moderation labels of an upload (three Group 2 calls).

Rekognition reads JPEG and PNG only: as an S3 object up to 15 MB, or as bytes in the request up
to 5 MB, 80 to 10,000 px a side. An upload that fits is read by Rekognition straight from S3 (the
function sends no pixels); anything else (WebP, HEIC, AVIF, GIF, TIFF, too big, too small, a PNG
stored sideways) is sent as an upright JPEG rendition of at most RENDITION_SIDE px. So every box
is a fraction of the upright picture: Rekognition turns a JPEG upright by its EXIF orientation
before it reports boxes, and a rendition is upright already.

What the service says maps to one clear outcome each:

- throttling (``ThrottlingException``, ``ProvisionedThroughputExceededException``) and its own
  failures: retried by botocore (standard mode, RETRY_ATTEMPTS attempts, exponential backoff);
  still failing: :class:`RecognitionUnavailable`, the upload is retried by Lambda;
- the image refused (``InvalidImageFormatException``, ``ImageTooLargeException``,
  ``InvalidParameterException``) or the object unreadable (``InvalidS3ObjectException``): the
  rendition is sent instead; refused again: ``ImageRejected`` (``unrecognizable``);
- permissions and setup (``AccessDeniedException``, a missing resource, an unsubscribed
  account): :class:`RecognitionMisconfigured`, naming what to grant.

IAM: ``rekognition:DetectLabels``, ``rekognition:DetectModerationLabels``,
``rekognition:DetectFaces`` (these take no resource ARN: ``Resource: "*"``) and ``s3:GetObject``
on ``uploads/*`` (Rekognition reads the object with the caller's permissions).
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from image_pipeline.imaging import ImageLimits, ImageRejected, Reason
from image_pipeline.imaging.guard import Source
from image_pipeline.imaging.recognition_input import fitted_size, jpeg_rendition, probe
from image_pipeline.ports import UploadImage
from image_pipeline.recognition import (
    Box,
    Face,
    Findings,
    Label,
    ModerationLabel,
    RecognitionMisconfigured,
    RecognitionUnavailable,
    Recognizer,
)

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_rekognition.type_defs import ImageTypeDef

log = logging.getLogger(__name__)

# Rekognition's set quotas (Developer Guide, "Guidelines and quotas").
FORMATS: Final = frozenset({"JPEG", "PNG"})
MAX_S3_OBJECT_BYTES: Final = 15 * 1024 * 1024
MAX_BYTES: Final = 5 * 1024 * 1024  # Image.Bytes: at most 5,242,880 bytes
MIN_SIDE: Final = 80
MAX_SIDE: Final = 10_000
# Ample for labels and faces (the smallest face found is relative to the image: 40 px at 1080p).
RENDITION_SIDE: Final = 2048
MAX_LABELS: Final = 50
LABELS_FROM: Final = 0.55  # Rekognition's default MinConfidence for DetectLabels
# The calls this adapter makes, each billed per image (its role may make exactly these).
OPERATIONS: Final = ("DetectLabels", "DetectModerationLabels", "DetectFaces")
RETRY_ATTEMPTS: Final = 4  # the first call and three retries: at most ~7 s of backoff when throttled
CLIENT_CONFIG: Final = Config(retries={"mode": "standard", "total_max_attempts": RETRY_ATTEMPTS}, read_timeout=10)

_REFUSED: Final = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException", "InvalidS3ObjectException"}
)
_TRANSIENT: Final = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
        "ServiceUnavailableException",
    }
)
_MISCONFIGURED: Final[Mapping[str, str]] = {
    "AccessDeniedException": (
        "grant the function rekognition:DetectLabels, DetectModerationLabels and DetectFaces"
        " (and s3:GetObject on the uploads)"
    ),
    "UnrecognizedClientException": "the function's credentials are not valid for Rekognition",
    "InvalidSignatureException": "the function's credentials are not valid for Rekognition",
    "SubscriptionRequiredException": "the account is not subscribed to Rekognition",
    "OptInRequired": "the account has not opted in to Rekognition in this region",
    "ResourceNotFoundException": "a Rekognition resource the request names does not exist",
    "ResourceNotReadyException": "a Rekognition resource the request names is not ready",
    "HumanLoopQuotaExceededException": "the human review quota is exhausted",
}


@dataclass(frozen=True)
class _Input:
    image: "ImageTypeDef"
    via: str


class _Refused(Exception):
    """Rekognition refused this input (the image, or reading its object)."""


def input_plan(source: Source, image: UploadImage) -> str:
    """How the upload reaches Rekognition: ``s3-object``, ``bytes`` or ``rendition``."""
    readable = (
        source.format in FORMATS
        and source.frames == 1
        # Rekognition turns a JPEG upright by its EXIF orientation, never a PNG.
        and (source.format == "JPEG" or source.orientation == 1)
        and min(source.width, source.height) >= MIN_SIDE
        and max(source.width, source.height) <= MAX_SIDE
    )
    if readable and image.location is not None and image.size <= MAX_S3_OBJECT_BYTES:
        return "s3-object"
    if readable and image.size <= MAX_BYTES:
        return "bytes"
    return "rendition"


class RekognitionRecognizer(Recognizer):
    backend = "rekognition"

    def __init__(self, client: "RekognitionClient | None" = None, *, moderation_from: float = 0.5) -> None:
        """``moderation_from``: the lowest confidence (0..1) of the moderation labels to report
        (``ModerationThreshold.reporting_floor``)."""
        self._client = client or boto3.client("rekognition", config=CLIENT_CONFIG)
        self._moderation_from = moderation_from

    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        source = probe(image.data, limits)  # bad bytes are rejected here, as by every job
        plan = input_plan(source, image)
        if plan != "rendition":
            direct = self._direct(image, plan)
            try:
                return self._detect(direct)
            except _Refused as exc:
                log.warning("Rekognition refused the upload as %s (%s): sending a rendition", plan, exc)
        rendition = self._rendition(image, source, limits)
        try:
            return self._detect(rendition)
        except _Refused as exc:
            raise ImageRejected(Reason.UNRECOGNIZABLE, f"Rekognition cannot read the image: {exc}") from exc

    @staticmethod
    def _direct(image: UploadImage, plan: str) -> _Input:
        if plan == "s3-object" and image.location is not None:
            return _Input({"S3Object": {"Bucket": image.location.bucket, "Name": image.location.key}}, plan)
        return _Input({"Bytes": image.data}, plan)

    @staticmethod
    def _rendition(image: UploadImage, source: Source, limits: ImageLimits) -> _Input:
        size = fitted_size(source.width, source.height, max_side=RENDITION_SIDE, min_side=MIN_SIDE)
        rendition = None
        if size is not None:
            rendition = jpeg_rendition(image.data, limits, size, max_bytes=MAX_BYTES, min_side=MIN_SIDE)
        if rendition is None:
            raise ImageRejected(
                Reason.UNRECOGNIZABLE,
                f"a {source.width}x{source.height} px image cannot be shown to Rekognition"
                f" ({MIN_SIDE}-{MAX_SIDE} px a side, at most {MAX_BYTES} bytes)",
            )
        via = f"rendition {rendition.width}x{rendition.height} JPEG of a {source.format}"
        return _Input({"Bytes": rendition.data}, via)

    def _detect(self, given: _Input) -> Findings:
        labels = self._call(
            "DetectLabels",
            self._client.detect_labels,
            Image=given.image,
            MaxLabels=MAX_LABELS,
            MinConfidence=_percent_of(LABELS_FROM),
            Features=["GENERAL_LABELS"],  # IMAGE_PROPERTIES is billed extra
        )
        moderation = self._call(
            "DetectModerationLabels",
            self._client.detect_moderation_labels,
            Image=given.image,
            MinConfidence=_percent_of(self._moderation_from),
        )
        faces = self._call("DetectFaces", self._client.detect_faces, Image=given.image, Attributes=["DEFAULT"])
        return Findings(
            backend=self.backend,
            labels=tuple(_label(found) for found in labels.get("Labels", [])),
            faces=tuple(face for found in faces.get("FaceDetails", []) if (face := _face(found)) is not None),
            moderation=tuple(_moderation_label(found) for found in moderation.get("ModerationLabels", [])),
            model=(
                f"DetectLabels {labels.get('LabelModelVersion', '?')}, "
                f"DetectModerationLabels {moderation.get('ModerationModelVersion', '?')}"
            ),
            input=given.via,
        )

    def _call(self, operation: str, method: Callable[..., Any], **request: Any) -> Mapping[str, Any]:
        try:
            response: Mapping[str, Any] = method(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code")), str(error.get("Message", ""))
            if code in _REFUSED:
                raise _Refused(f"{operation}: {code}: {message}") from exc
            if code in _TRANSIENT:
                raise RecognitionUnavailable(f"Rekognition {operation} still failing after retries: {code}") from exc
            if code in _MISCONFIGURED:
                raise RecognitionMisconfigured(
                    f"Rekognition {operation} refused the function: {code} ({_MISCONFIGURED[code]})"
                ) from exc
            raise
        except (EndpointUnreachable, ConnectTimeoutError, ReadTimeoutError) as exc:
            region = self._client.meta.region_name
            raise RecognitionUnavailable(
                f"Rekognition {operation} unreachable in {region} ({exc}); if Rekognition is not offered"
                " there, deploy with RecognitionBackend=onnx"
            ) from exc
        return response


def _percent_of(fraction: float) -> float:
    return round(fraction * 100, 2)


def _percent(value: Any) -> float:
    return round(min(1.0, max(0.0, float(value) / 100)), 6)


def _label(found: Mapping[str, Any]) -> Label:
    parents = tuple(str(parent["Name"]) for parent in found.get("Parents", []) if parent.get("Name"))
    return Label(str(found["Name"]), _percent(found.get("Confidence", 0)), parents)


def _moderation_label(found: Mapping[str, Any]) -> ModerationLabel:
    level = found.get("TaxonomyLevel")
    return ModerationLabel(
        name=str(found["Name"]),
        confidence=_percent(found.get("Confidence", 0)),
        parent=str(found.get("ParentName") or "") or None,  # "" marks a top-level label
        level=int(level) if level is not None else None,
    )


def _face(found: Mapping[str, Any]) -> Face | None:
    box = found.get("BoundingBox", {})
    within = Box.within_image(
        float(box.get("Left", 0)), float(box.get("Top", 0)), float(box.get("Width", 0)), float(box.get("Height", 0))
    )
    return None if within is None else Face(within, _percent(found.get("Confidence", 0)))
