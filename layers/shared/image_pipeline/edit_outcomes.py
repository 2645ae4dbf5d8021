"""The EditWorkflow's last step: publish a finished edit.

A completed edit's output is copied from the work area to ``outputs/`` and announced as
``EditCompleted``; a refused image is announced as ``EditRejected``, any other failure (caught by
the workflow with its error and cause) as ``EditFailed``. Each event has the image id as its
correlation id, the ``EditRequested`` event as its causation and one id per edit and outcome, so
a retried publish is recorded once. No Pillow here: this step has no image layer.
"""

import json
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from image_pipeline.edits import EditWorkflowInput, ImageRef, edit_output_key, outcome_event_id, work_prefix
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.ports import EventPublisher, ObjectStore

log = logging.getLogger(__name__)

WORKFLOW_PRODUCER: Final = "EditWorkflow"
MAX_CAUSE_CHARS: Final = 1000  # a stack trace has no place in an event
# Stable codes for the failures worth telling apart; everything else is "step_failed".
_FAILURE_REASONS: Final = {
    "ObjectMissing": "source_missing",
    "States.Timeout": "timeout",
    "Sandbox.Timedout": "timeout",
}


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class Rejection(_Camel):
    step: str
    reason: str
    message: str


class Failure(_Camel):
    """A state's error output, as the workflow's Catch hands it over."""

    step: str
    error: str
    cause: str = ""


class StepTiming(_Camel):
    """One step of the edit's timeline, as the workflow collects it."""

    step: str
    outcome: str
    duration_ms: int = Field(ge=0)


class Completed(_Camel):
    outcome: Literal["completed"]
    edit: EditWorkflowInput
    image: ImageRef
    steps: list[StepTiming] = Field(default_factory=list, max_length=10)


class Rejected(_Camel):
    outcome: Literal["rejected"]
    edit: EditWorkflowInput
    rejection: Rejection


class Failed(_Camel):
    outcome: Literal["failed"]
    edit: EditWorkflowInput
    failure: Failure


PublishInput = Annotated[Completed | Rejected | Failed, Field(discriminator="outcome")]
PUBLISH_INPUT: Final[TypeAdapter[Completed | Rejected | Failed]] = TypeAdapter(PublishInput)


def failure_details(failure: Failure) -> tuple[str, str]:
    """(error name, message) from a step's error output. Lambda's Cause is a JSON object naming
    the error type and message (the local engine reports every error as Runtime.HandlerError,
    so the type inside the Cause is the one to trust)."""
    error, message = failure.error, failure.cause
    try:
        parsed = json.loads(failure.cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = str(parsed.get("errorType") or error)
        message = str(parsed.get("errorMessage") or message)
    return error, message[:MAX_CAUSE_CHARS]


@dataclass(frozen=True)
class EditOutcomes:
    """Publishes a finished edit: its output under outputs/, and one outcome event."""

    store: ObjectStore
    publisher: EventPublisher
    bucket: str
    producer: str = WORKFLOW_PRODUCER

    def publish(self, request: Completed | Rejected | Failed) -> PipelineEvent:
        match request:
            case Completed():
                event = self._completed(request)
            case Rejected():
                event = self._event(request.edit, EventType.EDIT_REJECTED, request.rejection.model_dump(by_alias=True))
            case Failed():
                event = self._event(request.edit, EventType.EDIT_FAILED, self._failure(request.failure))
        self.publisher.publish([event])
        log.info("%s for edit %s", event.type, request.edit.edit_id, extra={"event_type": event.type})
        return event

    def _completed(self, request: Completed) -> PipelineEvent:
        edit, image = request.edit, request.image
        if image.bucket != self.bucket or not image.key.startswith(work_prefix(edit.image_id, edit.edit_id)):
            raise ValueError(f"edit {edit.edit_id} can only publish its own work, not s3://{image.bucket}/{image.key}")
        stored = self.store.get(image.bucket, image.key)
        extension = image.key.rsplit(".", 1)[-1]
        key = edit_output_key(edit.image_id, edit.edit_id, extension)
        media_type = image.media_type or stored.content_type or "application/octet-stream"
        self.store.put(
            self.bucket,
            key,
            stored.data,
            content_type=media_type,
            metadata={"image-id": edit.image_id, "edit-id": edit.edit_id},
        )
        output = {
            "key": key,
            "format": image.format,
            "mediaType": media_type,
            "width": image.width,
            "height": image.height,
            "bytes": len(stored.data),
        }
        steps = [timing.model_dump(by_alias=True) for timing in request.steps]
        return self._event(edit, EventType.EDIT_COMPLETED, {"output": output, "steps": steps})

    @staticmethod
    def _failure(failure: Failure) -> dict[str, Any]:
        error, message = failure_details(failure)
        return {
            "step": failure.step,
            "reason": _FAILURE_REASONS.get(error, "step_failed"),
            "error": error,
            "message": f"{failure.step} failed ({error}): {message}",
        }

    def _event(self, edit: EditWorkflowInput, event_type: EventType, data: dict[str, Any]) -> PipelineEvent:
        return PipelineEvent.new(
            event_type,
            image_id=edit.image_id,
            producer=self.producer,
            event_id=outcome_event_id(edit.edit_id, event_type),
            causation_id=edit.request_id,
            data={"editId": edit.edit_id, **data},
        )
