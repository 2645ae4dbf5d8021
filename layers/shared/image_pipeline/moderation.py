"""What moderation allows of an image's current upload: whether its outputs may be served, what the
API shows under ``recognition``, and the faces a content-aware crop may use.

Fail closed: an output is served (a download link) only once the recognition job has cleared the
upload (``ImageRecognized``, which a flagged image never gets). Until then, or when moderation
flagged it (``ImageRejected`` with reason ``moderation``), every output is withheld. So a flagged
image's thumbnail is never served, not even in the second before recognition answers.

Pure and Pillow-free: the API reads it (image_pipeline.recognition, which decodes, is not needed).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from image_pipeline.catalogue import EventType
from image_pipeline.events import PipelineEvent
from image_pipeline.pairing import ImageState

# ImageRejected's reason when moderation flagged the image (imaging.errors.Reason.MODERATION).
MODERATION: Final = "moderation"
# Why an output has no link: moderation flagged the upload, or has not cleared it (yet).
WITHHELD_FLAGGED: Final = "moderation"
WITHHELD_PENDING: Final = "pending_moderation"


@dataclass(frozen=True)
class Moderated:
    """Moderation's word on the image's current upload."""

    recognized: PipelineEvent | None  # ImageRecognized: the upload was cleared
    flagged: PipelineEvent | None  # ImageRejected (moderation): the labels that flagged it

    @property
    def withheld(self) -> str | None:
        """Why the upload's outputs are not served (None: they are)."""
        if self.flagged is not None:
            return WITHHELD_FLAGGED
        return None if self.recognized is not None else WITHHELD_PENDING

    def recognition(self) -> dict[str, Any] | None:
        """What ``GET /images/{id}`` shows under ``recognition``: the ImageRecognized findings, or
        for a flagged upload the moderation verdict alone (its labels and faces are not kept)."""
        if self.flagged is not None:
            data = self.flagged.data
            return {
                "backend": data.get("backend"),
                "moderation": {
                    "flagged": True,
                    "score": data.get("score"),
                    "threshold": data.get("threshold"),
                    "labels": data.get("labels"),
                },
            }
        found = self.recognized.data.get("recognition") if self.recognized is not None else None
        return dict(found) if isinstance(found, dict) else None

    def faces(self) -> list[dict[str, Any]] | None:
        """The faces recognition found (boxes as fractions of the upright image); None when the
        backend cannot find faces or the upload was not cleared."""
        found = (self.recognition() or {}).get("faces") if self.flagged is None else None
        return list(found) if found is not None else None


def moderated(state: ImageState, events: Iterable[PipelineEvent]) -> Moderated:
    """Moderation's word on ``state``'s current upload, from the image's events."""
    current = state.current
    if current is None or current.request_type is not EventType.IMAGE_UPLOADED:
        return Moderated(recognized=None, flagged=None)
    flagged = next(
        (
            e
            for e in events
            if e.type is EventType.IMAGE_REJECTED
            and e.causation_id == current.request_id
            and e.data.get("reason") == MODERATION
        ),
        None,
    )
    return Moderated(recognized=current.responses.get(EventType.IMAGE_RECOGNIZED), flagged=flagged)
