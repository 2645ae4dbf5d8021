"""The recognition backend a deployment chose (RECOGNITION_BACKEND), built once per execution
environment. Only the chosen backend's modules are imported: the ONNX one needs RecognitionLayer."""

from image_pipeline.recognition import ModerationThreshold, RecognitionOff, Recognizer


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
