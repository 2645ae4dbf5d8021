"""The EditWorkflow's image steps (crop, filter, compress), free of Lambda and Step Functions.

Each step reads an image by reference, does one stage of the edit and writes its result
by reference under ``edits/`` (the state payload never carries pixels). Keys are a function of
the edit and the step, so a retried step overwrites its own result with the same bytes.

A step answers with data when the image itself is refused (``{"outcome": "rejected", ...}``),
or cannot give the crop asked of it (``aspect_unreachable``, ``crop_too_small``):
the workflow routes that with a Choice and never retries it. Anything else raises (a missing
source, a bucket that is not ours, a wiring bug): the workflow retries what is transient and
its Catch records the rest as ``EditFailed`` (``image_pipeline.edit_outcomes``).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from image_pipeline.edits import (
    MAX_EDIT_SIDE,
    MAX_OPERATIONS,
    EditFormat,
    EditPlan,
    Face,
    ImageRef,
    Operation,
    UnreachableCrop,
    work_key,
)
from image_pipeline.imaging import CropSpec, ImageLimits, ImageRejected, Rendition
from image_pipeline.imaging.edit import Fit, compress_image, crop_image, filter_image, upright_size
from image_pipeline.ports import ObjectStore

log = logging.getLogger(__name__)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class StepInput(_Camel):
    """What the workflow passes each image step: the edit, and the image to work on."""

    image_id: str = Field(min_length=1)
    edit_id: str = Field(min_length=1)
    image: ImageRef
    operations: list[Operation] = Field(min_length=1, max_length=MAX_OPERATIONS)
    format: EditFormat
    faces: list[Face] | None = None  # the crop step's: where recognition found faces

    def plan(self) -> EditPlan:
        return EditPlan.of(self.operations, self.format)


class StepResult(_Camel):
    outcome: Literal["done", "rejected"]
    step: str
    image: ImageRef | None = None  # done: the step's result
    reason: str | None = None  # rejected: a stable code (e.g. "truncated")
    message: str | None = None  # rejected: a sentence
    duration_ms: int  # the step's own work: read, process, write (the edit's step timeline)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _fit(plan: EditPlan) -> Fit:
    resize = plan.resize
    if resize is None:
        return Fit(MAX_EDIT_SIDE)
    return Fit(MAX_EDIT_SIDE, width=resize.width, height=resize.height)


@dataclass(frozen=True)
class EditSteps:
    store: ObjectStore
    bucket: str  # the images bucket: the only one a step reads or writes
    limits: ImageLimits

    def crop(self, step: StepInput) -> StepResult:
        crop = step.plan().crop
        if crop is None:
            raise ValueError(f"edit {step.edit_id} has no crop: the workflow should have skipped this step")
        box = None if crop.box is None else (crop.box[0], crop.box[1], crop.box[2], crop.box[3])
        faces = tuple(face.box.region for face in step.faces or ()) if crop.mode == "content" else ()
        spec = CropSpec(crop.mode, aspect=crop.aspect_ratio, box=box, focus=faces)

        def cropped(data: bytes, plan: EditPlan) -> Rendition:
            # The API refuses a crop the image cannot give when it knows the size; here it is known.
            if (unmet := crop.unmet(upright_size(data, self.limits))) is not None:
                raise unmet
            return crop_image(data, self.limits, spec, _fit(plan))

        return self._run("crop", step, cropped)

    def filter(self, step: StepInput) -> StepResult:
        filters = step.plan().filters
        if not filters:
            raise ValueError(f"edit {step.edit_id} has no filter: the workflow should have skipped this step")
        return self._run("filter", step, lambda data, plan: filter_image(data, self.limits, filters, _fit(plan)))

    def compress(self, step: StepInput) -> StepResult:
        return self._run(
            "compress", step, lambda data, plan: compress_image(data, self.limits, _fit(plan), plan.format)
        )

    def _run(self, name: str, step: StepInput, work: Callable[[bytes, EditPlan], Rendition]) -> StepResult:
        if step.image.bucket != self.bucket:
            raise ValueError(f"edit {step.edit_id} reads from {step.image.bucket!r}, not the images bucket")
        started = time.perf_counter()
        # The exact version the edit was asked of (its ETag): a replaced or vanished source fails the edit.
        data = self.store.get(step.image.bucket, step.image.key, etag=step.image.etag).data
        try:
            result = work(data, step.plan())
        except (ImageRejected, UnreachableCrop) as exc:
            log.warning("edit %s: %s refused the image: %s", step.edit_id, name, exc, extra={"reason": exc.reason})
            return StepResult(
                outcome="rejected", step=name, reason=exc.reason, message=str(exc), duration_ms=_since(started)
            )
        key = work_key(step.image_id, step.edit_id, name, result.extension)
        self.store.put(
            self.bucket,
            key,
            result.data,
            content_type=result.media_type,
            metadata={"image-id": step.image_id, "edit-id": step.edit_id},
        )
        image = ImageRef(
            bucket=self.bucket,
            key=key,
            format=result.format,
            media_type=result.media_type,
            width=result.width,
            height=result.height,
            bytes=len(result.data),
        )
        log.info("edit %s: %s -> %dx%d", step.edit_id, name, result.width, result.height)
        return StepResult(outcome="done", step=name, image=image, duration_ms=_since(started))


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
