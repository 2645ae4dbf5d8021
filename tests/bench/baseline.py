"""The three things the benchmark times, in a module light enough for the memory children.

naive  = what the AWS S3-thumbnail tutorial does: full decode, LANCZOS resize, JPEG save.
ours   = ``render`` with the pipeline's own spec.
floor  = a JPEG decoded at 1/8 scale and nothing else: no resize can start before that.
"""

import io
import math

from PIL import Image

from image_pipeline.imaging import WEB_RENDITIONS, RenditionSpec, render

W1024 = next(spec for spec in WEB_RENDITIONS if spec.name == "w1024-jpeg")


def naive(data: bytes, width: int) -> bytes:
    """The tutorial's way: decode everything, LANCZOS straight to the target, save."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        ratio = width / max(image.size)
        resized = image.resize(
            (max(1, round(image.width * ratio)), max(1, round(image.height * ratio))), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    resized.convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def ours(data: bytes, spec: RenditionSpec) -> bytes:
    return render(data, [spec])[0].data


def floor(data: bytes) -> None:
    """A JPEG's 1/8-scale DCT decode: entropy decoding of every byte, the least any path does."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft(None, (math.ceil(image.width / 8), math.ceil(image.height / 8)))
        image.load()
