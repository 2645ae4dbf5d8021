"""RecognizeFunction as template.yaml wires it: its role may make exactly the Rekognition calls the
adapter makes, read only the uploads, and it carries the recognition layer the onnx backend needs."""

from typing import Any

from image_pipeline.aws import rekognition
from image_pipeline.recognition import BACKENDS
from tests import template

FUNCTION = "RecognizeFunction"


def _statements() -> list[dict[str, Any]]:
    policies = template.function_properties(FUNCTION)["Policies"]
    return [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_role_may_make_exactly_the_rekognition_calls_the_adapter_makes() -> None:
    granted = [s for s in _statements() if any(a.startswith("rekognition:") for a in _actions(s))]
    assert len(granted) == 1
    (statement,) = granted
    assert _actions(statement) == {f"rekognition:{operation}" for operation in rekognition.OPERATIONS}
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "*"  # these actions take no resource ARN
    assert "Condition" not in statement


def test_rekognition_reads_the_uploads_with_the_roles_rights_and_nothing_else() -> None:
    reads = [s for s in _statements() if "s3:GetObject" in _actions(s)]
    assert [s["Resource"] for s in reads] == [{"Fn::Sub": "${ImagesBucket.Arn}/uploads/*"}]
    assert not any("s3:PutObject" in _actions(s) for s in _statements())  # recognition writes no outputs


def test_the_backend_parameter_offers_every_backend_and_defaults_to_rekognition() -> None:
    parameters = template.load()["Parameters"]
    assert tuple(parameters["RecognitionBackend"]["AllowedValues"]) == BACKENDS
    assert parameters["RecognitionBackend"]["Default"] == "rekognition"
    threshold = parameters["ModerationThreshold"]
    assert (threshold["MinValue"], threshold["MaxValue"]) == (0, 1)
    variables = template.function_properties(FUNCTION)["Environment"]["Variables"]
    assert variables["RECOGNITION_BACKEND"] == {"Ref": "RecognitionBackend"}
    assert variables["MODERATION_THRESHOLD"] == {"Ref": "ModerationThreshold"}


def test_only_the_recognize_function_carries_the_recognition_layer() -> None:
    carriers = [
        f for f in template.function_ids() if {"Ref": "RecognitionLayer"} in template.function_properties(f)["Layers"]
    ]
    assert carriers == [FUNCTION]
    assert {"Ref": "PillowLayer"} in template.function_properties(FUNCTION)["Layers"]  # the layer leaves Pillow to it
