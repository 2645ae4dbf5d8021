"""RecognizeFunction as CloudFormation would create it (template.yaml expanded by SAM, for each
backend): its role may make exactly the Rekognition calls the adapter makes, and only where the
backend is Rekognition; it reads the uploads and writes nothing; only it carries the layer the
onnx backend needs."""

from typing import Any

import pytest

from image_pipeline.aws import rekognition
from image_pipeline.recognition import BACKENDS
from tests import template
from tests.template import Deployed, referenced

FUNCTION = "RecognizeFunction"


def _statements(deployed: Deployed) -> list[dict[str, Any]]:
    role = referenced(deployed.properties(FUNCTION)["Role"])
    assert role is not None
    policies = deployed.properties(role).get("Policies", [])
    return [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.fixture(scope="module", params=BACKENDS)
def deployed(request: pytest.FixtureRequest) -> Deployed:
    return Deployed.of(template.APP, RecognitionBackend=request.param)


def test_the_role_may_make_exactly_the_rekognition_calls_the_adapter_makes_and_only_for_rekognition(
    deployed: Deployed,
) -> None:
    granted = [s for s in _statements(deployed) if any(a.startswith("rekognition:") for a in _actions(s))]
    if deployed.values["RecognitionBackend"] != "rekognition":
        assert granted == []  # onnx and off call no service
        return
    (statement,) = granted
    assert _actions(statement) == {f"rekognition:{operation}" for operation in rekognition.OPERATIONS}
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "*"  # these actions take no resource ARN
    assert "Condition" not in statement


def test_it_reads_the_uploads_rekognition_reads_with_its_rights_and_writes_nothing(deployed: Deployed) -> None:
    statements = _statements(deployed)
    reads = [s for s in statements if "s3:GetObject" in _actions(s)]
    assert [s["Resource"] for s in reads] == [{"Fn::Sub": "${ImagesBucket.Arn}/uploads/*"}]
    assert not any(a.startswith("s3:Put") for s in statements for a in _actions(s))  # no outputs
    assert not any(
        a.startswith("dynamodb:") and referenced(s["Resource"]) != "IdempotencyTable"
        for s in statements
        for a in _actions(s)
    )


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
