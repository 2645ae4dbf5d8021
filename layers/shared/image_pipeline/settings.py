"""Typed settings for every function, read once at cold start from the environment.

Each field ``some_name`` is read from the variable ``SOME_NAME``; template.yaml sets exactly
those variables on the function (a unit test holds both sides equal).
"""

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """A function was deployed without the configuration its code needs."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def variable_names(cls) -> frozenset[str]:
        return frozenset(name.upper() for name in cls.model_fields)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
            raise SettingsError(f"{cls.__name__} cannot start: {problems}") from exc


class _Tracking(Settings):
    """Settings of the functions that derive image states (the stall deadline) and keep records."""

    images_table: str
    stall_timeout_seconds: int = Field(gt=0)
    retention_days: int = Field(ge=0)  # 0: keep records forever

    @property
    def stall_timeout(self) -> timedelta:
        return timedelta(seconds=self.stall_timeout_seconds)


class ImagingSettings(Settings):
    """The functions that decode images: the bucket they read and the limits they decode under."""

    images_bucket: str
    max_image_pixels: int = Field(gt=0)
    max_image_side: int = Field(gt=0)
    max_animation_frames: int = Field(gt=0)


class ProcessorSettings(ImagingSettings):
    """The image functions that answer an upload (thumbnail, renditions, analysis)."""

    app_bus_name: str
    event_source: str
    idempotency_table: str


class RecognizeSettings(ProcessorSettings):
    """RecognizeFunction: the upload job that recognizes (labels, faces) and moderates."""

    recognition_backend: Literal["rekognition", "onnx", "off"]
    moderation_threshold: float = Field(ge=0, le=1)  # a moderation label this confident withholds the image


class IntakeSettings(Settings):
    """IntakeFunction: registers every upload and announces it on the app bus."""

    images_bucket: str
    images_table: str
    app_bus_name: str
    event_source: str
    retention_days: int = Field(ge=0)


class TrackerSettings(_Tracking):
    app_bus_name: str  # where it announces every status change
    event_source: str


class SweeperSettings(_Tracking):
    app_bus_name: str
    event_source: str


class ApiSettings(_Tracking):
    images_bucket: str
    max_upload_bytes: int = Field(gt=0)
    upload_url_ttl_seconds: int = Field(gt=0, le=900)
    download_url_ttl_seconds: int = Field(gt=0, le=604_800)
    allowed_origin: str = Field(min_length=1)
    edit_workflow_arn: str = Field(min_length=1)
    app_bus_name: str  # its requests go on the bus too: the tracker announces PENDING, the hub sees them
    event_source: str
    watch_url_parameter: str = Field(min_length=1)  # where the push stack (if any) says its watch URL is
    watch_secret_arn: str = Field(min_length=1)  # the key watch tokens are signed with
    allow_loopback_callbacks: bool  # only ever true on the local engine (the template decides)


class EditStepSettings(ImagingSettings):
    """The EditWorkflow's image steps (crop, filter, compress)."""


class EditPublishSettings(Settings):
    """The EditWorkflow's last step: publish the output and the edit's outcome."""

    images_bucket: str
    app_bus_name: str
    event_source: str


class ReprocessSettings(_Tracking):
    """The ReprocessWorkflow's item function (reprocess/template.yaml): it reads the image log,
    records and announces its requests, and hands uploads to the renditions job's queue."""

    app_bus_name: str
    event_source: str
    rendition_queue_url: str = Field(min_length=1)
    # How long an item waits for its answer (its child execution is Express: five minutes at most).
    answer_timeout_seconds: int = Field(gt=0, le=240)

    @property
    def answer_timeout(self) -> timedelta:
        return timedelta(seconds=self.answer_timeout_seconds)


class WatchSettings(Settings):
    """WatchFunction: the watch WebSocket API's $connect (checks the token) and $disconnect."""

    connections_table: str
    watch_secret_arn: str = Field(min_length=1)


class _Describing(Settings):
    """The functions that tell a requester what ``GET /images/{id}`` answers, links included."""

    images_table: str
    images_bucket: str
    stall_timeout_seconds: int = Field(gt=0)
    download_url_ttl_seconds: int = Field(gt=0, le=604_800)
    app_bus_name: str
    event_source: str

    @property
    def stall_timeout(self) -> timedelta:
        return timedelta(seconds=self.stall_timeout_seconds)


class NotifierSettings(_Describing):
    """NotifierFunction: pushes status changes to the image's WebSocket watchers."""

    connections_table: str
    watch_endpoint: str = Field(pattern=r"^wss://[^/]+\.execute-api\.[^/]+/[^/]+$")


class WebhookSettings(_Describing):
    """WebhookSender: POSTs final statuses to callback URLs, retrying through its queue."""

    deliveries_table: str
    webhook_queue_url: str = Field(min_length=1)
    webhook_dlq_url: str = Field(min_length=1)
    webhook_secret_arn: str = Field(min_length=1)
    allow_loopback_callbacks: bool  # only ever true on the local engine (the template decides)
