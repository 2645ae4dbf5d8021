"""Pure image processing for the pipeline (Pillow, plus libvips for PNG when present): safe
opening under limits, renditions, crops, filters and analysis. No AWS in here.

``render`` and ``analyze`` raise :class:`ImageRejected` (with a stable ``reason``) for any input
the pipeline refuses; everything else they return is fresh, re-encoded and metadata-free.
"""

from image_pipeline.imaging.analysis import analyze
from image_pipeline.imaging.errors import ImageRejected, Reason
from image_pipeline.imaging.filters import FILTERS
from image_pipeline.imaging.formats import MEDIA_TYPES, media_type, sniff_format
from image_pipeline.imaging.limits import ImageLimits
from image_pipeline.imaging.renditions import render
from image_pipeline.imaging.specs import (
    PREVIEWS,
    THUMBNAIL,
    WEB_RENDITIONS,
    CropSpec,
    OutputFormat,
    Rendition,
    RenditionSpec,
)

__all__ = [
    "FILTERS",
    "MEDIA_TYPES",
    "PREVIEWS",
    "THUMBNAIL",
    "WEB_RENDITIONS",
    "CropSpec",
    "ImageLimits",
    "ImageRejected",
    "OutputFormat",
    "Reason",
    "Rendition",
    "RenditionSpec",
    "analyze",
    "media_type",
    "render",
    "sniff_format",
]
