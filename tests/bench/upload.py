"""The whole upload: all three image jobs' outputs for one image, made four ways in the same run.

ours     = the three image jobs exactly as the functions run them (``processing``'s operations;
           recognition, which encodes nothing, is measured per backend by tests/bench/recognition.py).
naive    = the tutorial's way for every output: a full decode per output, LANCZOS, encode.
pillow   = the strongest plain alternative: one ``thumbnail()`` decode per job (draft +
           reducing_gap), every output of the job from it.
floor    = the chosen encodes alone: exactly the pixels ours encodes, encoded one after another.
decodes  = the jobs' decodes alone: each job opens and decodes the upload itself (three functions,
           three decodes), at the scale it chose. Encodes + decodes is this architecture's floor.

Every path makes the same outputs (same specs, crops, filters, encoder and settings) and the same
analysis (``analyze``), so only how the pixels are obtained differs.
"""

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib import import_module
from unittest.mock import patch

from PIL import Image, ImageOps

from image_pipeline.catalogue import JOBS
from image_pipeline.imaging import PREVIEWS, THUMBNAIL, WEB_RENDITIONS, ImageLimits, RenditionSpec, analyze
from image_pipeline.imaging.crop import energy_map, region
from image_pipeline.imaging.encoders import encode
from image_pipeline.imaging.filters import apply_filter
from image_pipeline.imaging.guard import open_image
from image_pipeline.processing import OPERATIONS, Source

LIMITS = ImageLimits()
RENDITION_SPECS: tuple[RenditionSpec, ...] = (*WEB_RENDITIONS, *PREVIEWS)


def ours(data: bytes) -> None:
    for job in JOBS:
        if job.name in OPERATIONS:
            OPERATIONS[job.name](Source(data), LIMITS)


def _output(upright: Image.Image, spec: RenditionSpec, *, gap: float | None) -> bytes:
    """One spec from an upright image: the same region (crop), size, filter and encoder as ours."""
    if upright.mode not in {"RGB", "RGBA", "L"}:
        upright = upright.convert("RGB")
    fractions = region(spec.crop, upright.size, lambda: energy_map(upright))
    box = (
        round(fractions[0] * upright.width),
        round(fractions[1] * upright.height),
        round(fractions[2] * upright.width),
        round(fractions[3] * upright.height),
    )
    width, height = box[2] - box[0], box[3] - box[1]
    ratio = min(1.0, spec.max_side / max(width, height))
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    pixels = upright.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=gap)
    if spec.filter is not None:
        pixels = apply_filter(pixels, spec.filter)
    return encode(pixels, spec.format)


def naive(data: bytes) -> None:
    for spec in (THUMBNAIL, *RENDITION_SPECS):
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)
            _output(upright, spec, gap=None)
    analyze(data, LIMITS)


def _one_decode(data: bytes, specs: Sequence[RenditionSpec]) -> None:
    largest = max(spec.max_side for spec in specs)
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((largest, largest), Image.Resampling.LANCZOS, reducing_gap=2.0)
        upright = ImageOps.exif_transpose(image)
    for spec in specs:
        _output(upright, spec, gap=2.0)


def pillow(data: bytes) -> None:
    _one_decode(data, [THUMBNAIL])
    _one_decode(data, RENDITION_SPECS)
    analyze(data, LIMITS)


@contextmanager
def _recording(encodes: list[tuple[Image.Image, str]]) -> Iterator[None]:
    def record(image: Image.Image, format_name: str) -> bytes:
        encodes.append((image.copy(), format_name))
        return encode(image, format_name)

    with patch("image_pipeline.imaging.renditions.encode", record):
        yield


def chosen_encodes(data: bytes) -> list[tuple[Image.Image, str]]:
    """The (pixels, format) of every encode the three jobs make, recorded from one run of ours."""
    encodes: list[tuple[Image.Image, str]] = []
    with _recording(encodes):
        ours(data)
    return encodes


def floor(encodes: Sequence[tuple[Image.Image, str]]) -> Callable[[], None]:
    def run() -> None:
        for pixels, format_name in encodes:
            encode(pixels, format_name)

    return run


Decode = tuple[Callable[..., object], float, float | None]  # (function, scale, margin)
_DECODERS = ("image_pipeline.imaging.renditions.decode_stored", "image_pipeline.imaging.analysis.decode")


def chosen_decodes(data: bytes) -> list[Decode]:
    """Every decode the three jobs make (which function, at what scale), recorded from one run."""
    decodes: list[Decode] = []

    def recorder(real: Callable[..., object]) -> Callable[..., object]:
        def record(data: bytes, image: Image.Image, source: object, scale: float, **options: float) -> object:
            decodes.append((real, scale, options.get("margin")))
            return real(data, image, source, scale, **options)

        return record

    with ExitStack() as stack:
        for target in _DECODERS:
            module, name = target.rsplit(".", 1)
            stack.enter_context(patch(target, recorder(getattr(import_module(module), name))))
        ours(data)
    return decodes


def decodes(data: bytes, recorded: Sequence[Decode]) -> Callable[[], None]:
    def run() -> None:
        for decoder, scale, margin in recorded:
            image, source = open_image(data, LIMITS)
            if margin is None:
                decoder(data, image, source, scale)
            else:
                decoder(data, image, source, scale, margin=margin)

    return run
