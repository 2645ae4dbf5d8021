"""An event that is not a pipeline event is refused naming each problem: where in the EventBridge
event (``detail-type``, ``detail.metadata.eventId``...) and what is wrong there, in this pipeline's
words, never a count alone or a validation library's wording."""

import copy
import json
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from image_pipeline.events import NotAPipelineEvent, PipelineEvent
from tests.conftest import load_event

LIBRARY_WORDING = ("Input should", "Field required", "Value error", "validation error", "String should", "pydantic")


def _sample() -> dict[str, Any]:
    return load_event("app-thumbnail-created.json")


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = copy.deepcopy(_sample())
    change(event)
    return event


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], list[str]]] = {
    "unknown type": (
        lambda e: e.update({"detail-type": "SomethingNew"}),
        ["detail-type: 'SomethingNew' is not an event type of this pipeline"],
    ),
    "missing id": (
        lambda e: e["detail"]["metadata"].pop("eventId"),
        ["detail.metadata.eventId: missing"],
    ),
    "empty correlation id": (
        lambda e: e["detail"]["metadata"].update({"correlationId": ""}),
        ["detail.metadata.correlationId: empty"],
    ),
    "bad time": (
        lambda e: e["detail"]["metadata"].update({"occurredAt": "yesterday"}),
        ["detail.metadata.occurredAt: 'yesterday' is not an ISO 8601 date-time"],
    ),
    "wrong types": (
        lambda e: e["detail"].update({"data": [1], "metadata": {**e["detail"]["metadata"], "producer": 3}}),
        ["detail.metadata.producer: must be text, not a number", "detail.data: must be an object, not a list"],
    ),
    "no metadata": (lambda e: e["detail"].pop("metadata"), ["detail.metadata: missing"]),
}


@pytest.mark.parametrize("case", CASES)
def test_each_problem_is_named_where_it_is_and_what_is_wrong(case: str) -> None:
    change, problems = CASES[case]
    with pytest.raises(NotAPipelineEvent) as refused:
        PipelineEvent.from_eventbridge(_broken(change))
    message = str(refused.value)
    assert message.endswith(f"{len(problems)} problem(s): {'; '.join(problems)}"), message
    assert not any(words in message for words in LIBRARY_WORDING), message


def test_what_has_no_detail_at_all_is_named_by_its_shape() -> None:
    with pytest.raises(NotAPipelineEvent, match=r"^not a pipeline event: an SQS batch of 1 message\(s\) has no detail"):
        PipelineEvent.from_eventbridge(load_event("sqs-rendition-batch.json"))


def test_the_tracker_logs_which_fields_of_a_refused_event_were_wrong(
    aws: SimpleNamespace,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an event with two broken fields
    event = _broken(lambda e: e["detail"]["metadata"].update({"eventId": "", "occurredAt": "soon"}))
    tracker = load_handler("TrackerFunction")
    # When the tracker hears it
    answer = tracker.lambda_handler(event, lambda_context)
    # Then nothing is recorded and its one warning names both fields and what is wrong with each
    assert answer["recorded"] is False
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (warning,) = [line for line in logged if line.get("level") == "WARNING"]
    assert "2 problem(s)" in warning["message"]
    assert "detail.metadata.eventId: empty" in warning["message"]
    assert "detail.metadata.occurredAt: 'soon' is not an ISO 8601 date-time" in warning["message"]
    assert warning["message"] == f"refused an event: {answer['reason']}"
