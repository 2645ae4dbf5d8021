"""The REST API's request and response models: what a client sends and what it gets back.

Powertools validates requests against these and documents them (the OpenAPI document that
``make openapi`` writes); the domain (``image_pipeline.image_api``) returns the responses. JSON
is camelCase throughout; every field is always present (``null`` when unknown). The edit's
request model is ``image_pipeline.edits.EditRequest``.
"""

import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from image_pipeline.edits import is_edit_id
from image_pipeline.keys import EXTENSIONS, is_image_id

# API Gateway gives an integration 29 s; a wait leaves room for a cold start and the last poll.
MAX_WAIT_SECONDS: Final = 25
MAX_PAGE: Final = 100


def _clean_filename(value: str) -> str:
    """Keep only the base name, printable: it is shown back to people, never used as a key."""
    name = PureWindowsPath(PurePosixPath(value).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise PydanticCustomError("filename", "filename must contain a visible file name")
    return name


def _supported_content_type(value: str) -> str:
    if value not in EXTENSIONS:
        raise PydanticCustomError(
            "content_type",
            "unsupported content type {value}; expected one of {expected}",
            {"value": repr(value[:80]), "expected": ", ".join(EXTENSIONS)},
        )
    return value


class _Json(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# ---------------------------------------------------------------- requests
def _checked(valid: Callable[[str], bool]) -> AfterValidator:
    def check(value: str) -> str:
        if not valid(value):
            raise PydanticCustomError("id", "must be 32 lowercase hex characters")
        return value

    return AfterValidator(check)


_HEX_ID_SCHEMA: Final = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
ImageId = Annotated[str, _checked(is_image_id), WithJsonSchema(_HEX_ID_SCHEMA)]
EditId = Annotated[str, _checked(is_edit_id), WithJsonSchema(_HEX_ID_SCHEMA)]


class CreateImageRequest(_Json):
    """Body of ``POST /images``: the file's name (shown back, never a key), its type and, best
    given, its size in bytes: a file the upload would refuse is refused here, before anything is
    created, and the presigned POST accepts no more than it. Optionally, where to POST its final
    status (webhooks, README "Results come back")."""

    filename: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_clean_filename)]
    content_type: Annotated[str, AfterValidator(_supported_content_type)]
    size: Annotated[int | None, Field(strict=True, ge=0)] = None
    callback_url: Annotated[
        str | None,
        Field(max_length=2048, description="https URL of a public host: the final status is POSTed there, signed"),
    ] = None


def _whole_seconds(value: Any) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_WAIT_SECONDS):
        raise PydanticCustomError("wait", "wait is whole seconds from 1 to {limit}", {"limit": MAX_WAIT_SECONDS})
    return int(text)


# Any junk is refused with the limit named (pydantic would say "unable to parse string as an
# integer"); the route's Query() declares the bounds for the document.
WaitSeconds = Annotated[int, BeforeValidator(_whole_seconds)]


# ---------------------------------------------------------------- responses
class PresignedPost(_Json):
    url: str
    fields: dict[str, str]


class WatchView(_Json):
    """Where to hear the image's status changes as they happen (a WebSocket)."""

    url: str = Field(description="wss:// URL with a token for this image only; open it before uploading")
    expires_at: str = Field(description="Until when the URL may be opened (the connection then lasts)")


_WATCH: Final = "Watch the image over a WebSocket; null when no push stack is deployed beside the app"


class CreatedImage(_Json):
    """``201`` of ``POST /images``: where and how to upload, and where to follow the image."""

    image_id: str
    upload: PresignedPost
    upload_expires_at: str
    max_bytes: int
    status_url: str = Field(description="Relative to the URL posted to (RFC 3986): the image's GET route")
    watch: WatchView | None = Field(default=None, description=_WATCH)


class ImageSummary(_Json):
    image_id: str
    status: str
    filename: str
    upload_key: str
    origin: str
    created_at: str
    status_url: str = Field(description="Relative to the URL of the list (RFC 3986): the image's GET route")


class ImagePage(_Json):
    images: list[ImageSummary]
    next_cursor: str | None


class UploadFacts(_Json):
    """The upload the image's status, outputs and analysis all come from."""

    key: str | None
    version: str | None
    size: int | None
    etag: str | None
    content_type: str | None
    uploaded_at: str


class OutputLink(_Json):
    """One output of the upload, with a presigned download ``url``; or, while moderation has not
    cleared the upload (or flagged it), none, and ``withheld`` says why."""

    model_config = ConfigDict(extra="allow")  # whatever else the job recorded (e.g. sameAs)

    name: str
    key: str
    format: str
    media_type: str
    width: int
    height: int
    bytes: int
    url: str | None
    withheld: Literal["moderation", "pending_moderation"] | None = None


class JobSpecs(_Json):
    """Whether a job's outputs of the image are made to its current specs (``make reprocess``
    brings them there)."""

    made_to: str | None = Field(description="The spec version the outputs were made to (null: unknown or none)")
    latest: str = Field(description="The job's current spec version")
    current: bool


class ImageView(_Json):
    """``GET /images/{imageId}``."""

    image_id: str
    status: str
    reason: str | None
    reason_code: str | None
    filename: str | None
    content_type: str | None
    origin: str | None
    created_at: str | None
    uploaded_at: str | None
    upload: UploadFacts | None
    deadline: str | None
    missing: list[str]
    outputs: dict[str, OutputLink]
    analysis: dict[str, Any] | None
    recognition: dict[str, Any] | None = Field(
        default=None,
        description="What recognition saw (backend, labels, faces, moderation); for a flagged image its verdict alone",
    )
    specs: dict[str, JobSpecs] = Field(default_factory=dict, description="By job, for the jobs with specs")
    outputs_current: bool | None = Field(
        default=None, description="Every job's outputs made to its current specs (null: no outputs yet)"
    )


class TraceView(_Json):
    """``GET /images/{imageId}/trace``: every event in order, each tied to what it answers."""

    image_id: str
    status: str
    events: list[dict[str, Any]]
    expected: dict[str, list[str]]
    missing: list[str]
    edits: dict[str, str] = Field(description="Each edit's own status, by edit id")


class EditAccepted(_Json):
    """``202`` of ``POST /images/{imageId}/edits``."""

    image_id: str
    edit_id: str
    status_url: str = Field(description="Relative to the URL posted to (RFC 3986): the edit's GET route")
    watch: WatchView | None = Field(default=None, description=_WATCH)


class EditView(_Json):
    """``GET /images/{imageId}/edits/{editId}``."""

    image_id: str
    edit_id: str
    status: Literal["RUNNING", "COMPLETE", "REJECTED", "FAILED", "STALLED"]
    operations: list[dict[str, Any]] | None
    format: str | None
    source: dict[str, Any] | None
    requested_at: str
    output: dict[str, Any] | None
    steps: list[dict[str, Any]] | None
    reason: str | None
    reason_code: str | None


class Problem(_Json):
    field: str
    reason: str


class ErrorBody(_Json):
    """Every error, from the function or from API Gateway itself (a missing key, throttling)."""

    message: str
    code: str
    errors: list[Problem]
