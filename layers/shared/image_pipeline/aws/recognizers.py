"""The recognition backend a deployment chose (RECOGNITION_BACKEND), and the recognition job's
operation with it. Only the chosen backend's modules are imported: the ONNX one needs
RecognitionLayer, and its model is loaded at the first image."""

from collections.abc import Mapping

from image_pipeline.processing import OPERATIONS, Operation
from image_pipeline.recognition import ModerationThreshold, RecognitionOff, Recognizer, recognition_operation


def recognizer_for(backend: str, threshold: ModerationThreshold) -> Recognizer:
    if backend == "rekognition":
        from image_pipeline.aws.rekognition import RekognitionRecognizer  # noqa: PLC0415

        return RekognitionRecognizer(moderation_from=threshold.reporting_floor)
    if backend == "onnx":
        from image_pipeline.offline.open_nsfw import OpenNsfwModeration  # noqa: PLC0415

        return OpenNsfwModeration()
    if backend == "off":
        return RecognitionOff()
    raise ValueError(f"unknown recognition backend {backend!r}: rekognition, onnx or off")


def recognition_operations(backend: str, moderation_threshold: float) -> Mapping[str, Operation]:
    """The jobs' operations, the recognition job's with a deployment's backend and threshold."""
    threshold = ModerationThreshold(moderation_threshold)
    return {**OPERATIONS, "recognition": recognition_operation(recognizer_for(backend, threshold), threshold)}
