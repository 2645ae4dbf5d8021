"""On-demand edits: the request a client sends, the edit it names and the workflow input it starts.

An edit is a short list of operations applied to one version of an image's upload::

    {"operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 800}}],
     "format": "webp"}

The EditWorkflow runs its stages in a fixed order - crop, filters, compress (resize + encode),
publish - so a request lists its operations in that order: at most one crop (first), filters in
the order they apply, at most one resize (last). Validation names each bad field once, in the
``{"field", "reason"}`` shape of the API's other 400s (``image_pipeline.problems``).

A crop must be one the image allows (``Crop.unmet``): the API refuses it when it knows the
image's size (its analysis), the crop step refuses it otherwise (``EditRejected``).

The same request for the same upload is the same edit: the edit id is a hash of the image id, the
source version and the normalized body (defaults filled in, aspect ratios reduced). It names the
workflow execution and the ``EditRequested`` event, so asking twice starts one workflow and
records one request.
"""

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from image_pipeline.catalogue import EditStatus, ImageStatus
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.keys import OUTPUTS_PREFIX
from image_pipeline.pairing import derive_state
from image_pipeline.problems import FieldProblem, InvalidInput, field_problems

# No Pillow here: the API validates edits without the Pillow layer. The names below are held
# equal to image_pipeline.imaging's by a unit test.
FILTERS: Final = frozenset({"autocontrast", "blur", "grayscale", "invert", "sepia", "sharpen", "vivid"})
OutputFormat = Literal["JPEG", "WEBP", "AVIF", "PNG"]

MAX_OPERATIONS: Final = 8
MAX_EDIT_SIDE: Final = 4096  # an edit's output is at most this on its long side (work and memory stay bounded)
MAX_ASPECT_TERM: Final = 100
# A crop's whole-pixel window may miss the asked aspect by this much (rounding one side of a
# window at least 50 px across stays within it; 100 px when a box makes both sides fractional).
ASPECT_TOLERANCE: Final = Fraction(1, 100)
OPERATIONS: Final = ("crop", "filter", "resize")
FORMATS: Final[dict[str, OutputFormat]] = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "png": "PNG"}
EditFormat = Literal["jpeg", "webp", "avif", "png"]

# Intermediate images live here between steps; the upload rule never matches it and a lifecycle
# rule expires it. A completed edit is published under outputs/.
EDITS_WORK_PREFIX: Final = "edits/"

_ASPECT = re.compile(r"^(?P<w>[0-9]{1,3}):(?P<h>[0-9]{1,3})$")
_EDIT_ID = re.compile(r"^[0-9a-f]{32}$")
_ANSWERS = frozenset({EventType.EDIT_COMPLETED, EventType.EDIT_REJECTED, EventType.EDIT_FAILED})


def _problem(kind: str, message: str) -> PydanticCustomError:
    # A custom error keeps the reason a plain sentence ("Value error, ..." otherwise).
    return PydanticCustomError(kind, message)


def _aspect(value: str) -> str:
    match = _ASPECT.match(value)
    if not match or not (1 <= int(match["w"]) <= MAX_ASPECT_TERM and 1 <= int(match["h"]) <= MAX_ASPECT_TERM):
        raise _problem(
            "aspect", f"aspect is 'width:height' with whole numbers from 1 to {MAX_ASPECT_TERM}, e.g. '1:1' or '16:9'"
        )
    width, height = int(match["w"]), int(match["h"])
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"  # '2:2' and '1:1' are the same crop


def _known_filter(value: str) -> str:
    if value not in FILTERS:
        raise _problem("filter", f"unknown filter {value[:40]!r}; choose one of {', '.join(sorted(FILTERS))}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Share = Annotated[float, Strict(), Field(ge=0, le=1)]


class Crop(_Strict):
    """Crop to an ``aspect`` ('W:H'), within ``box`` ([left, top, right, bottom] as fractions of
    the upright image) if given; ``content`` places the window where the detail is."""

    aspect: Annotated[StrictStr, Field(max_length=7), AfterValidator(_aspect)] | None = None
    mode: Literal["centre", "content"] = "centre"
    box: Annotated[list[Share], Field(min_length=4, max_length=4)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.aspect is None and self.box is None:
            raise _problem("crop", "a crop needs an aspect ('1:1') or a box ([left, top, right, bottom])")
        if self.box is not None:
            left, top, right, bottom = self.box
            if not (left < right and top < bottom):
                raise _problem("box", "box needs left < right and top < bottom")
        return self

    @property
    def aspect_ratio(self) -> tuple[int, int] | None:
        if self.aspect is None:
            return None
        width, height = self.aspect.split(":")
        return (int(width), int(height))

    def window(self, size: tuple[int, int]) -> tuple[int, int]:
        """The crop's size in whole pixels on an upright image of ``size``: the box, or the
        largest window of the aspect inside it (as ``imaging.crop.region`` places it), each side
        rounded as the crop step sizes its output (``round``: half to even)."""
        width, height = size
        # the box as the client wrote it (0.005 is 1/200, not the binary float nearest to it)
        left, top, right, bottom = (Fraction(str(v)) for v in (self.box or (0, 0, 1, 1)))
        box_w, box_h = (right - left) * width, (bottom - top) * height
        if self.aspect_ratio is None:
            return (round(box_w), round(box_h))
        aspect_w, aspect_h = self.aspect_ratio
        if box_w * aspect_h > box_h * aspect_w:  # wider than the aspect: the box's full height
            return (round(box_h * aspect_w / aspect_h), round(box_h))
        return (round(box_w), round(box_w * aspect_h / aspect_w))

    def unmet(self, size: tuple[int, int]) -> "UnreachableCrop | None":
        """Why this crop cannot be made of an upright image of ``size``, or None.

        It cannot when its whole-pixel window has a side under 1 px, or differs from the asked
        aspect by more than ``ASPECT_TOLERANCE`` (16:9 of a 1x1 image, 1:100 of a 10000x50 one)."""
        crop_w, crop_h = self.window(size)
        what = f"a {self.aspect} crop" if self.aspect else "this box"
        of = f"of this {size[0]}x{size[1]} image"
        if min(crop_w, crop_h) < 1:
            return UnreachableCrop("crop_too_small", f"{what} {of} would have a side under 1 px")
        if self.aspect_ratio is None:
            return None
        aspect_w, aspect_h = self.aspect_ratio
        off = abs(Fraction(crop_w * aspect_h, crop_h * aspect_w) - 1)
        if off > ASPECT_TOLERANCE:
            return UnreachableCrop(
                "aspect_unreachable",
                f"{what} {of} would be {crop_w}x{crop_h} px, {float(off):.1%} off that aspect"
                f" (at most {float(ASPECT_TOLERANCE):.0%} is allowed)",
            )
        return None


class UnreachableCrop(ValueError):
    """A crop the image cannot give (``reason``: a stable code, the message a sentence)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


Side = Annotated[StrictInt, Field(ge=1, le=MAX_EDIT_SIDE)]


class Resize(_Strict):
    """Fit inside ``width`` and/or ``height`` (pixels), keeping the aspect; never upscaled."""

    width: Side | None = None
    height: Side | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.width is None and self.height is None:
            raise _problem("resize", f"a resize needs a width or a height (1 to {MAX_EDIT_SIDE} px)")
        return self


def _one_operation(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict):
        raise _problem("operation", 'an operation is an object such as {"filter": "sepia"}')
    names = list(value)
    unknown = [str(name)[:40] for name in names if name not in OPERATIONS]
    if unknown:
        raise _problem("operation", f"unknown operation {unknown[0]!r}; expected one of {', '.join(OPERATIONS)}")
    if len(names) != 1:
        raise _problem("operation", f"an operation has exactly one of {', '.join(OPERATIONS)}; got {len(names)}")
    return value


class Operation(_Strict):
    """One step of an edit: exactly one of ``crop``, ``filter`` or ``resize``."""

    crop: Crop | None = None
    filter: Annotated[StrictStr, Field(max_length=40), AfterValidator(_known_filter)] | None = None
    resize: Resize | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, value: Any) -> Any:
        return _one_operation(value)

    @property
    def name(self) -> str:
        if self.crop is not None:
            return "crop"
        return "filter" if self.filter is not None else "resize"

    def normalized(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _short_enough(value: Any) -> Any:
    # Checked before any item is parsed: a hostile list costs nothing.
    if isinstance(value, list) and len(value) > MAX_OPERATIONS:
        raise _problem("too_many_operations", f"at most {MAX_OPERATIONS} operations, got {len(value)}")
    return value


def _in_stage_order(operations: list[Operation]) -> list[Operation]:
    names = [op.name for op in operations]
    if names.count("crop") > 1 or names.count("resize") > 1:
        raise _problem("order", "at most one crop and one resize per edit")
    if "crop" in names and names[0] != "crop":
        raise _problem("order", "the crop comes first: operations run as crop, filters, resize")
    if "resize" in names and names[-1] != "resize":
        raise _problem("order", "the resize comes last: operations run as crop, filters, resize")
    return operations


class EditRequest(_Strict):
    """Body of ``POST /images/{imageId}/edits``."""

    operations: Annotated[
        list[Operation],
        BeforeValidator(_short_enough),
        Field(min_length=1, max_length=MAX_OPERATIONS),
        AfterValidator(_in_stage_order),
    ]
    format: EditFormat = "jpeg"

    def normalized(self) -> dict[str, Any]:
        """The body with defaults filled in: equal edits have equal normal forms."""
        return {"operations": [op.normalized() for op in self.operations], "format": self.format}

    @property
    def crop(self) -> Crop | None:
        return next((op.crop for op in self.operations if op.crop is not None), None)

    def unmet(self, size: tuple[int, int]) -> FieldProblem | None:
        """What an upright image of ``size`` cannot give of this edit (its crop), or None."""
        crop = self.crop
        unmet = crop.unmet(size) if crop is not None else None
        if crop is None or unmet is None:
            return None
        index = next(i for i, op in enumerate(self.operations) if op.crop is crop)
        return FieldProblem(f"operations.{index}.crop.{'aspect' if crop.aspect else 'box'}", str(unmet))


class InvalidEditRequest(InvalidInput):
    """The body is not an edit this pipeline runs; ``problems`` names each bad field once."""


def parse_edit_request(body: Any) -> EditRequest:
    """The validated request; raises :class:`InvalidEditRequest` naming each bad field once
    (``operations.2.resize.width``, or ``body`` when it is not an object at all)."""
    try:
        return EditRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidEditRequest(field_problems(exc.errors())) from exc


# ---------------------------------------------------------------- the edit and its workflow
class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class EditSource(_Camel):
    """The version of the image an edit reads: its bucket, key and ETag."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    etag: str = Field(min_length=1)


class FaceBox(_Camel):
    """A face as fractions of the upright image: the corner (left, top) and the size."""

    left: Share
    top: Share
    width: Share
    height: Share

    @property
    def region(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom), clipped to the image."""
        return (self.left, self.top, min(1.0, self.left + self.width), min(1.0, self.top + self.height))


class Face(_Camel):
    """A face recognition found in the image (ImageRecognized's ``recognition.faces``)."""

    box: FaceBox
    confidence: Share


class ImageRef(_Camel):
    """An image in S3, as one step hands it to the next."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    etag: str | None = None
    format: str | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


def is_edit_id(value: str) -> bool:
    return _EDIT_ID.fullmatch(value) is not None


def edit_id(image_id: str, source: EditSource, request: EditRequest) -> str:
    """The same request for the same version of the same image is the same edit."""
    material = {
        "imageId": image_id,
        "source": {"key": source.key, "etag": source.etag},
        "edit": request.normalized(),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()[:32]


def request_event_id(edit: str) -> str:
    """``EditRequested``'s event id: every answer names it as its ``causationId``."""
    return f"edit-{edit}"


def edit_events(events: Iterable[PipelineEvent], edit: str) -> list[PipelineEvent]:
    """The events of one edit among an image's: its request and what answers it (outcomes, or a
    stall the sweeper raised). ``pairing.derive_state`` of these is the edit's status."""
    request = request_event_id(edit)
    return [e for e in events if request in {e.event_id, e.causation_id}]


@dataclass(frozen=True)
class EditState:
    status: EditStatus
    requested: PipelineEvent
    answer: PipelineEvent | None  # EditCompleted, EditRejected or EditFailed
    reason: str | None  # a sentence, when not complete
    reason_code: str | None


def edit_state(events: Iterable[PipelineEvent], edit: str, stall_timeout: timedelta) -> EditState | None:
    """Where one edit stands, from the image's events; None when it was never requested."""
    mine = edit_events(events, edit)
    requested = next((e for e in mine if e.event_id == request_event_id(edit)), None)
    if requested is None:
        return None
    state = derive_state(mine, stall_timeout)
    answer = next((e for e in mine if e.type in _ANSWERS), None)
    status = EditStatus.RUNNING if state.status is ImageStatus.PROCESSING else EditStatus(state.status.value)
    return EditState(status, requested, answer, state.reason, state.reason_code)


def outcome_event_id(edit: str, outcome: EventType) -> str:
    """One id per edit and outcome: a repeated publish is recorded once."""
    return f"edit-{edit}-{outcome.value}"


def edit_requested(
    image_id: str,
    source: EditSource,
    request: EditRequest,
    *,
    producer: str,
    now: datetime,
    causation_id: str | None = None,
    faces: Sequence[Mapping[str, Any]] | None = None,
) -> PipelineEvent:
    """The request event; ``causation_id`` may name the upload the edit reads, ``faces`` the faces
    recognition found in it (for a content-aware crop; they come with the upload, so they are not
    part of the edit's identity)."""
    edit = edit_id(image_id, source, request)
    data = {"editId": edit, "source": source.model_dump(by_alias=True), **request.normalized()}
    if faces is not None:
        data["faces"] = [Face.model_validate(face).model_dump(mode="json") for face in faces]
    return PipelineEvent.new(
        EventType.EDIT_REQUESTED,
        image_id=image_id,
        producer=producer,
        event_id=request_event_id(edit),
        occurred_at=now,
        causation_id=causation_id,
        data=data,
    )


class EditWorkflowInput(_Camel):
    """What the EditWorkflow starts with (and the execution is named by ``edit_id``)."""

    image_id: str = Field(min_length=1)
    edit_id: Annotated[str, Field(pattern=_EDIT_ID.pattern)]
    request_id: str = Field(min_length=1)  # the EditRequested event id
    source: EditSource
    operations: list[Operation] = Field(min_length=1, max_length=MAX_OPERATIONS)
    format: EditFormat
    faces: list[Face] | None = None  # for a content-aware crop; None: not known

    @classmethod
    def from_requested(cls, requested: PipelineEvent) -> Self:
        if requested.type is not EventType.EDIT_REQUESTED:
            raise ValueError(f"an edit starts from EditRequested, not {requested.type}")
        data = requested.data
        return cls(
            image_id=requested.image_id,
            edit_id=data["editId"],
            request_id=requested.event_id,
            source=EditSource.model_validate(data["source"]),
            operations=[Operation.model_validate(op) for op in data["operations"]],
            format=data["format"],
            faces=data.get("faces"),
        )

    def payload(self) -> dict[str, Any]:
        """The execution input as JSON-ready data (camelCase, defaults filled in)."""
        return {
            **self.model_dump(mode="json", by_alias=True, exclude={"operations"}),
            "operations": [op.normalized() for op in self.operations],
        }

    def plan(self) -> "EditPlan":
        return EditPlan.of(self.operations, self.format)


@dataclass(frozen=True)
class EditPlan:
    """What each stage of the workflow does for one edit."""

    crop: Crop | None
    filters: tuple[str, ...]
    resize: Resize | None
    format: OutputFormat

    @classmethod
    def of(cls, operations: Sequence[Operation], edit_format: EditFormat) -> Self:
        return cls(
            crop=next((op.crop for op in operations if op.crop is not None), None),
            filters=tuple(op.filter for op in operations if op.filter is not None),
            resize=next((op.resize for op in operations if op.resize is not None), None),
            format=FORMATS[edit_format],
        )


# ---------------------------------------------------------------- where edits live in the bucket
def work_prefix(image_id: str, edit: str) -> str:
    """Where an edit's intermediate images live (expired by the bucket's lifecycle rule)."""
    return f"{EDITS_WORK_PREFIX}{image_id}/{edit}/"


def work_key(image_id: str, edit: str, step: str, extension: str) -> str:
    """An intermediate image of an edit."""
    return f"{work_prefix(image_id, edit)}{step}.{extension}"


def edit_output_key(image_id: str, edit: str, extension: str) -> str:
    """Where a completed edit is published."""
    return f"{OUTPUTS_PREFIX}{image_id}/edits/{edit}.{extension}"
