"""Recognition: what a picture shows (labels, faces) and whether it may be served (moderation).

Backends see different things. Rekognition reports labels, faces and moderation labels; the
bundled open_nsfw model reports one moderation score; ``off`` reports nothing. Whatever a backend
cannot provide is ``None`` ("not available from this backend"), never an empty list standing in
for a guess: an empty list means the backend looked and found nothing.

The decision to withhold an image is taken here, once, for every backend: a moderation label at
or above :class:`ModerationThreshold` flags it, and :func:`recognize` answers with a rejection
(reason ``moderation``, carrying the labels that flagged it) instead of the recognition.

Pure domain code: no AWS, no model runtime. Adapters implement :class:`Recognizer`
(``image_pipeline.aws.rekognition``, ``image_pipeline.offline.open_nsfw``, :class:`RecognitionOff`).
"""

from image_pipeline.recognition.model import (
    BACKENDS,
    Box,
    Face,
    Findings,
    Label,
    ModerationLabel,
    ModerationThreshold,
    Verdict,
)
from image_pipeline.recognition.operation import recognition_operation, recognize, recognized_data
from image_pipeline.recognition.port import (
    RecognitionMisconfigured,
    RecognitionOff,
    RecognitionUnavailable,
    Recognizer,
)

__all__ = [
    "BACKENDS",
    "Box",
    "Face",
    "Findings",
    "Label",
    "ModerationLabel",
    "ModerationThreshold",
    "RecognitionMisconfigured",
    "RecognitionOff",
    "RecognitionUnavailable",
    "Recognizer",
    "Verdict",
    "recognition_operation",
    "recognize",
    "recognized_data",
]
