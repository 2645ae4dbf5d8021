"""Why an image was refused: a stable machine code plus a sentence a person can act on."""

from enum import StrEnum


class Reason(StrEnum):
    EMPTY = "empty"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    SIDE_TOO_LONG = "side_too_long"
    TOO_MANY_FRAMES = "too_many_frames"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"


class ImageRejected(Exception):
    """The bytes are not an image this pipeline will process. Never worth a retry."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: str = reason.value
