"""The ``recognition`` upload job: one more Job for the UploadResponder, answering ImageRecognized."""

from image_pipeline.events import EventType
from image_pipeline.imaging import ImageLimits
from image_pipeline.ports import UploadImage
from image_pipeline.processing import Job, JobResult
from image_pipeline.recognition.model import ModerationThreshold
from image_pipeline.recognition.operation import recognize
from image_pipeline.recognition.port import Recognizer

NAME = "recognition"


def recognition_job(recognizer: Recognizer, threshold: ModerationThreshold) -> Job:
    """The job with its backend and threshold. Given only bytes (``run``), a backend that could
    read the stored object (Rekognition) is sent the bytes instead."""

    def run_upload(image: UploadImage, limits: ImageLimits) -> JobResult:
        return JobResult(data=recognize(image, recognizer, threshold, limits))

    return Job(
        NAME,
        EventType.IMAGE_RECOGNIZED,
        run=lambda data, limits: run_upload(UploadImage(data), limits),
        run_upload=run_upload,
    )
