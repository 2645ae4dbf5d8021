"""The Recognizer port, how a backend says it cannot answer, and the backend that is switched off."""

from abc import ABC, abstractmethod

from image_pipeline.imaging import ImageLimits
from image_pipeline.ports import UploadImage
from image_pipeline.recognition.model import Findings


class RecognitionUnavailable(RuntimeError):
    """The backend cannot answer now (throttled, unreachable, failing): retry the upload later."""


class RecognitionMisconfigured(RuntimeError):
    """The backend will not answer until the deployment is fixed (permissions, region, settings):
    the message says what to change. Not the image's fault, so never a rejection."""


class Recognizer(ABC):
    """Sees what an upload shows. One instance per execution environment: it may hold a client
    or a loaded model."""

    backend: str

    @abstractmethod
    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        """What the backend sees in ``image`` (its ``backend`` named, what it cannot tell None).

        Raises ``ImageRejected`` when the image itself cannot be read or seen (bad bytes, over
        ``limits``, refused by the service), :class:`RecognitionUnavailable` when the backend
        cannot answer now, :class:`RecognitionMisconfigured` when it never will as deployed.
        """


class RecognitionOff(Recognizer):
    """``RecognitionBackend=off``: nothing is recognized and nothing is flagged; the answer says so."""

    backend = "off"

    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        return Findings(backend=self.backend, labels=None, faces=None, moderation=None, model="recognition off")
