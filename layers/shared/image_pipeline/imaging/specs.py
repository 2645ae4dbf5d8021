"""What to make of an image: declarative specs, and the renditions the pipeline makes."""

from dataclasses import dataclass, field
from typing import Literal

from image_pipeline.imaging.filters import FILTERS

OutputFormat = Literal["JPEG", "WEBP", "AVIF", "PNG"]


@dataclass(frozen=True)
class CropSpec:
    """A crop to an ``aspect`` (width, height) inside ``box`` (left, top, right, bottom as fractions
    of the upright image), or just to ``box``. ``centre`` keeps the middle; ``content`` slides the
    window over the regions in ``focus`` (faces recognition found) when there are any in the box,
    else to where the edges are."""

    mode: Literal["centre", "content"]
    aspect: tuple[int, int] | None = None
    box: tuple[float, float, float, float] | None = None
    focus: tuple[tuple[float, float, float, float], ...] = ()  # (left, top, right, bottom) fractions

    def __post_init__(self) -> None:
        if self.aspect is not None and min(self.aspect) <= 0:
            raise ValueError(f"aspect must be positive, got {self.aspect}")
        if self.box is not None:
            left, top, right, bottom = self.box
            if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
                raise ValueError(f"box must be fractions with left < right and top < bottom, got {self.box}")
        for left, top, right, bottom in self.focus:
            if not (0 <= left <= right <= 1 and 0 <= top <= bottom <= 1):
                raise ValueError(
                    f"a focus region must be fractions with left <= right and top <= bottom, got {self.focus}"
                )


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    max_side: int  # the output's longest side; never upscaled
    format: OutputFormat
    crop: CropSpec | None = None
    filter: str | None = None

    def __post_init__(self) -> None:
        if self.max_side < 1:
            raise ValueError(f"max_side must be positive, got {self.max_side}")
        if self.filter is not None and self.filter not in FILTERS:
            raise ValueError(f"unknown filter {self.filter!r}; choose one of {sorted(FILTERS)}")


@dataclass(frozen=True)
class Rendition:
    name: str
    format: str
    media_type: str
    extension: str
    width: int
    height: int
    data: bytes = field(repr=False)
    # The name of an earlier rendition of the same render() with exactly these bytes (a small
    # source's w2048 is its w1024): encoded once; a store may keep one object for both.
    same_as: str | None = None


_WEB_FORMATS: tuple[OutputFormat, ...] = ("JPEG", "WEBP", "AVIF")

THUMBNAIL = RenditionSpec("thumbnail", 256, "JPEG")
WEB_RENDITIONS: tuple[RenditionSpec, ...] = tuple(
    RenditionSpec(f"w{side}-{fmt.lower()}", side, fmt) for side in (1024, 2048) for fmt in _WEB_FORMATS
)
PREVIEWS: tuple[RenditionSpec, ...] = (
    RenditionSpec("crop-square", 512, "JPEG", crop=CropSpec("content", aspect=(1, 1))),
    RenditionSpec("filter-sepia", 512, "JPEG", filter="sepia"),
)
