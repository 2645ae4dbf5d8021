"""Pure image processing for the pipeline (Pillow, plus libvips for PNG when present): safe
opening under limits, renditions, crops, filters and analysis. No AWS in here.

``render`` and ``analyze`` raise :class:`ImageRejected` (with a stable ``reason``) for any input
the pipeline refuses; everything else they return is fresh, re-encoded and metadata-free.

Importing the package loads no Pillow: the specs and their versions, the limits and the errors are
plain data (the API, which ships no Pillow, reads the spec versions); what touches pixels is
loaded on first use (PEP 562).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from image_pipeline.imaging.errors import ImageRejected, Reason
from image_pipeline.imaging.formats import MEDIA_TYPES, media_type, sniff_format
from image_pipeline.imaging.limits import ImageLimits
from image_pipeline.imaging.specs import (
    JOB_SPECS,
    PREVIEWS,
    SPEC_VERSIONS,
    THUMBNAIL,
    WEB_RENDITIONS,
    CropSpec,
    OutputFormat,
    Rendition,
    RenditionSpec,
    spec_version,
)

if TYPE_CHECKING:
    from image_pipeline.imaging.analysis import analyze
    from image_pipeline.imaging.filters import FILTERS
    from image_pipeline.imaging.renditions import render

# name -> the module (of this package) that defines it, imported when the name is first used
_WITH_PILLOW = {"analyze": "analysis", "FILTERS": "filters", "render": "renditions"}


def __getattr__(name: str) -> Any:
    if name not in _WITH_PILLOW:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WITH_PILLOW[name]}"), name)


__all__ = [
    "FILTERS",
    "JOB_SPECS",
    "MEDIA_TYPES",
    "PREVIEWS",
    "SPEC_VERSIONS",
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
    "spec_version",
]
