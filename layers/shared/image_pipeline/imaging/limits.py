"""What the pipeline agrees to decode: every number comes from a stack parameter."""

from dataclasses import dataclass

DEFAULT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF", "AVIF"})


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 40_000_000  # per frame: a 40 MP RGBA frame is ~160 MB decoded
    max_side: int = 12_000
    max_frames: int = 100
    allowed_formats: frozenset[str] = DEFAULT_FORMATS
