"""What the pipeline agrees to decode: every number comes from a stack parameter."""

from dataclasses import dataclass
from typing import Final

DEFAULT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF", "AVIF"})

# The stack parameter behind each limit: a refusal names it, so the user knows what to change.
PARAMETERS: Final[dict[str, str]] = {
    "max_pixels": "MaxImagePixels",
    "max_side": "MaxImageSidePixels",
    "max_frames": "MaxAnimationFrames",
}


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 40_000_000  # per frame: a 40 MP RGBA frame is ~160 MB decoded
    max_side: int = 12_000
    max_frames: int = 100
    allowed_formats: frozenset[str] = DEFAULT_FORMATS
