"""Why an image was refused: a stable machine code plus a sentence a person can act on."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    EMPTY = "empty"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    SIDE_TOO_LONG = "side_too_long"
    TOO_MANY_FRAMES = "too_many_frames"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"
    # Refused by recognition (image_pipeline.recognition): what it shows, or that it cannot be seen.
    MODERATION = "moderation"
    UNRECOGNIZABLE = "unrecognizable"


class ImageRejected(Exception):
    """The bytes are not an image this pipeline will process. Never worth a retry."""

    def __init__(self, reason: Reason, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason: str = reason.value
        # JSON-ready facts the rejection event carries beside reason and message (moderation: the
        # labels that flagged the image).
        self.details: dict[str, Any] = dict(details or {})
