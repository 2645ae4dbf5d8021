"""The edit request model: what a client may ask for, one reason per bad field, and the edit id
that makes the same request the same edit."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from image_pipeline import imaging
from image_pipeline.catalogue import EditStatus, ImageStatus
from image_pipeline.edits import (
    ASPECT_TOLERANCE,
    EDITS_WORK_PREFIX,
    FILTERS,
    MAX_EDIT_SIDE,
    MAX_OPERATIONS,
    Crop,
    EditPlan,
    EditSource,
    EditWorkflowInput,
    InvalidEditRequest,
    edit_events,
    edit_id,
    edit_output_key,
    edit_requested,
    edit_state,
    is_edit_id,
    outcome_event_id,
    parse_edit_request,
    request_event_id,
    work_key,
)
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.keys import OUTPUTS_PREFIX, UPLOADS_PREFIX
from image_pipeline.pairing import derive_state
from tests.template import ROOT

IMAGE = "0123456789abcdef0123456789abcdef"
SOURCE = EditSource(bucket="images", key=f"uploads/{IMAGE}.jpg", etag='"9b2cf535f27731c974343645a3985328"')
EXAMPLE = {
    "operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 800}}],
    "format": "webp",
}
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _problems(body: Any) -> dict[str, str]:
    with pytest.raises(InvalidEditRequest) as raised:
        parse_edit_request(body)
    problems = raised.value.problems
    fields = [p.field for p in problems]
    assert len(fields) == len(set(fields)), "one reason per field"
    return {p.field: p.reason for p in problems}


def test_the_issue_example_is_a_valid_edit_with_defaults_filled_in() -> None:
    request = parse_edit_request(EXAMPLE)
    assert request.normalized() == {
        "operations": [
            {"crop": {"aspect": "1:1", "mode": "centre"}},
            {"filter": "sepia"},
            {"resize": {"width": 800}},
        ],
        "format": "webp",
    }


def test_the_format_defaults_to_jpeg_and_filters_keep_their_order() -> None:
    request = parse_edit_request({"operations": [{"filter": "grayscale"}, {"filter": "sharpen"}]})
    plan = EditPlan.of(request.operations, request.format)
    assert plan == EditPlan(crop=None, filters=("grayscale", "sharpen"), resize=None, format="JPEG")


def test_a_crop_may_be_a_box_with_content_placement() -> None:
    request = parse_edit_request(
        {"operations": [{"crop": {"aspect": "16:9", "mode": "content", "box": [0, 0, 1, 0.5]}}]}
    )
    crop = request.operations[0].crop
    assert crop is not None
    assert crop.aspect_ratio == (16, 9)
    assert crop.box == [0.0, 0.0, 1.0, 0.5]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # unknown operation or filter
        ({"operations": [{"rotate": 90}]}, {"operations.0": "unknown operation 'rotate'"}),
        ({"operations": [{"filter": "posterize"}]}, {"operations.0.filter": "unknown filter 'posterize'"}),
        ({"operations": [{"filter": "x" * 10_000}]}, {"operations.0.filter": "at most 40 characters"}),
        ({"operations": [{"crop": {"aspect": "1:1"}, "filter": "sepia"}]}, {"operations.0": "exactly one of"}),
        ({"operations": ["sepia"]}, {"operations.0": "an operation is an object"}),
        # sizes out of range, or not whole numbers
        ({"operations": [{"resize": {"width": 0}}]}, {"operations.0.resize.width": "greater than or equal to 1"}),
        (
            {"operations": [{"resize": {"height": MAX_EDIT_SIDE + 1}}]},
            {"operations.0.resize.height": f"less than or equal to {MAX_EDIT_SIDE}"},
        ),
        ({"operations": [{"resize": {"width": 10**100}}]}, {"operations.0.resize.width": "less than or equal to"}),
        ({"operations": [{"resize": {"width": "800"}}]}, {"operations.0.resize.width": "valid integer"}),
        ({"operations": [{"resize": {"width": 800.5}}]}, {"operations.0.resize.width": "valid integer"}),
        ({"operations": [{"resize": {"width": True}}]}, {"operations.0.resize.width": "valid integer"}),
        ({"operations": [{"resize": {}}]}, {"operations.0.resize": "needs a width or a height"}),
        (
            {"operations": [{"resize": {"width": 8, "depth": 3}}]},
            {"operations.0.resize.depth": "not a field this request takes"},
        ),
        ({"operations": [{"crop": {"aspect": "0:1"}}]}, {"operations.0.crop.aspect": "whole numbers from 1 to 100"}),
        ({"operations": [{"crop": {"aspect": "1:1000"}}]}, {"operations.0.crop.aspect": "whole numbers from 1 to 100"}),
        ({"operations": [{"crop": {"aspect": "\uff11:\uff11"}}]}, {"operations.0.crop.aspect": "whole numbers"}),
        ({"operations": [{"crop": {"aspect": "-1:1"}}]}, {"operations.0.crop.aspect": "whole numbers"}),
        ({"operations": [{"crop": {"mode": "content"}}]}, {"operations.0.crop": "needs an aspect"}),
        ({"operations": [{"crop": {"box": [0.5, 0, 0.2, 1]}}]}, {"operations.0.crop": "left < right"}),
        ({"operations": [{"crop": {"box": [0, 0, 1.5, 1]}}]}, {"operations.0.crop.box.2": "less than or equal to 1"}),
        ({"operations": [{"crop": {"box": [0, 0, float("nan"), 1]}}]}, {"operations.0.crop.box.2": "finite"}),
        ({"operations": [{"crop": {"box": [0, 0, 1]}}]}, {"operations.0.crop.box": "at least 4 items"}),
        # too many operations, or in an order the workflow does not run
        ({"operations": [{"filter": "sepia"}] * (MAX_OPERATIONS + 1)}, {"operations": f"at most {MAX_OPERATIONS}"}),
        ({"operations": [{"filter": "sepia"}] * 100_000}, {"operations": f"at most {MAX_OPERATIONS} operations"}),
        ({"operations": []}, {"operations": "at least 1 item"}),
        ({"operations": [{"filter": "sepia"}, {"crop": {"aspect": "1:1"}}]}, {"operations": "the crop comes first"}),
        ({"operations": [{"resize": {"width": 8}}, {"filter": "sepia"}]}, {"operations": "the resize comes last"}),
        (
            {"operations": [{"crop": {"aspect": "1:1"}}, {"crop": {"aspect": "4:3"}}]},
            {"operations": "at most one crop"},
        ),
        # the body itself
        ({"operations": [{"filter": "sepia"}], "format": "gif"}, {"format": "'jpeg', 'webp', 'avif' or 'png'"}),
        ({"operations": [{"filter": "sepia"}], "format": "WEBP"}, {"format": "'jpeg', 'webp', 'avif' or 'png'"}),
        ({"operations": [{"filter": "sepia"}], "quality": 100}, {"quality": "not a field this request takes"}),
        ({}, {"operations": "required"}),
        ("sepia", {"body": "must be a JSON object"}),
        (None, {"body": "must be a JSON object"}),
        ([{"operations": [{"filter": "sepia"}]}], {"body": "must be a JSON object"}),
        ({"operations": [{"crop": "1:1"}]}, {"operations.0.crop": "must be a JSON object"}),
    ],
)
def test_a_bad_request_names_each_bad_field_once(body: Any, expected: dict[str, str]) -> None:
    problems = _problems(body)
    assert set(problems) == set(expected), problems
    for field, fragment in expected.items():
        assert fragment in problems[field], problems


def test_every_bad_field_of_one_request_is_named() -> None:
    body = {
        "operations": [{"crop": {"aspect": "x"}}, {"filter": "nope"}, {"resize": {"width": -1}}],
        "format": "bmp",
    }
    assert set(_problems(body)) == {
        "operations.0.crop.aspect",
        "operations.1.filter",
        "operations.2.resize.width",
        "format",
    }


def test_problems_have_the_apis_error_shape() -> None:
    with pytest.raises(InvalidEditRequest) as raised:
        parse_edit_request({"operations": [{"rotate": 1}]})
    assert [p.to_dict() for p in raised.value.problems] == [
        {"field": "operations.0", "reason": "unknown operation 'rotate'; expected one of crop, filter, resize"}
    ]


def test_the_filter_names_are_the_image_engines() -> None:
    # edits.py must not import Pillow (the API has no Pillow layer), so it names them itself
    assert imaging.FILTERS == FILTERS


def test_the_edit_model_imports_without_pillow() -> None:
    # Given a Python that cannot import PIL, as the API and tracker functions run
    probe = (
        "import sys\n"
        "class NoPillow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'PIL' or name.startswith('PIL.'):\n"
        "            raise ImportError('no Pillow here')\n"
        "sys.meta_path.insert(0, NoPillow())\n"
        "import image_pipeline.edits, image_pipeline.ports, image_pipeline.edit_outcomes\n"
        "import image_pipeline.aws.stepfunctions, image_pipeline.aws.rest, image_pipeline.image_api\n"
        "import image_pipeline.moderation, image_pipeline.hub.aggregates\n"
        "print('PIL' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers" / "shared")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- crops the image can give
def _crop(**crop: Any) -> Crop:
    request = parse_edit_request({"operations": [{"crop": crop}]})
    assert request.crop is not None
    return request.crop


@pytest.mark.parametrize(
    ("crop", "size", "reason"),
    [
        # the issue's two: no 16:9 window fits a single pixel (0.56 px tall: 1 px once rounded,
        # so 1:1), and a 1:100 one of a 50 px tall panorama would be half a pixel wide (none)
        ({"aspect": "16:9"}, (1, 1), "aspect_unreachable"),
        ({"aspect": "1:100"}, (10000, 50), "crop_too_small"),
        ({"aspect": "1:100"}, (10000, 51), "aspect_unreachable"),  # 0.51 px: 1 px, so 1:51
        ({"box": [0, 0, 0.005, 1]}, (100, 100), "crop_too_small"),  # a box half a pixel wide
    ],
)
def test_a_crop_the_image_cannot_give_is_named_with_a_reason(
    crop: dict[str, Any], size: tuple[int, int], reason: str
) -> None:
    unmet = _crop(**crop).unmet(size)
    assert unmet is not None
    assert unmet.reason == reason
    assert f"{size[0]}x{size[1]}" in str(unmet)


@pytest.mark.parametrize(
    ("size", "window", "met"),
    [
        # 2:1 of a square: the window's height is half its width, rounded half to even
        ((99, 99), (99, 50), True),  # 1.98:1, exactly 1 % off: the tolerance itself
        ((97, 97), (97, 48), False),  # 2.0208:1, 1.04 % off: just over
        ((201, 201), (201, 100), True),  # 2.01:1, 0.5 % off: under
        ((4000, 3000), (4000, 2000), True),  # an ordinary photo: exact
        ((3, 1), (2, 1), True),  # wider than 2:1: the full height
    ],
)
def test_an_aspect_is_met_within_one_percent_of_whole_pixels(
    size: tuple[int, int], window: tuple[int, int], met: bool
) -> None:
    crop = _crop(aspect="2:1")
    assert crop.window(size) == window
    assert (crop.unmet(size) is None) is met
    assert Fraction(1, 100) == ASPECT_TOLERANCE


@pytest.mark.parametrize(
    ("box", "met"),
    [([0, 0, 0.004, 1], False), ([0, 0, 0.005, 1], False), ([0, 0, 0.006, 1], True)],  # 0.4, 0.5, 0.6 px
)
def test_a_box_needs_more_than_half_a_pixel_to_round_to_one(box: list[float], met: bool) -> None:
    assert (_crop(box=box).unmet((100, 100)) is None) is met


def test_every_aspect_is_met_when_its_window_is_a_hundred_pixels_across() -> None:
    # The stated guarantee: rounding cannot move a window this large 1 % off its aspect, with
    # whole sides (the full image) or fractional ones (a box).
    checked = 0
    for terms in ((w, h) for w in range(1, 101, 11) for h in range(1, 101, 11)):
        for box in (None, [0.1, 0.13, 0.97, 0.91]):
            crop = _crop(aspect=f"{terms[0]}:{terms[1]}", **({"box": box} if box else {}))
            for size in ((w, h) for w in range(100, 2000, 301) for h in range(100, 2000, 317)):
                if min(crop.window(size)) >= 100:
                    checked += 1
                    assert crop.unmet(size) is None, (crop.aspect, box, size)
    assert checked > 3_000


def test_an_edits_unmet_crop_names_the_field_the_client_sent() -> None:
    request = parse_edit_request({"operations": [{"crop": {"aspect": "16:9"}}, {"filter": "sepia"}]})
    problem = request.unmet((1, 1))
    assert problem is not None
    assert problem.field == "operations.0.crop.aspect"
    assert request.unmet((1600, 900)) is None
    assert parse_edit_request({"operations": [{"filter": "sepia"}]}).unmet((1, 1)) is None  # no crop, nothing to meet
    boxed = parse_edit_request({"operations": [{"crop": {"box": [0, 0, 0.001, 1]}}]}).unmet((100, 100))
    assert boxed is not None
    assert boxed.field == "operations.0.crop.box"


# ---------------------------------------------------------------- the edit id
def test_the_same_request_for_the_same_upload_is_the_same_edit() -> None:
    first = edit_id(IMAGE, SOURCE, parse_edit_request(EXAMPLE))
    # Written differently: key order, an explicit default, a non-reduced aspect
    same = {
        "format": "webp",
        "operations": [
            {"crop": {"mode": "centre", "aspect": "3:3"}},
            {"filter": "sepia"},
            {"resize": {"width": 800}},
        ],
    }
    assert edit_id(IMAGE, SOURCE, parse_edit_request(same)) == first
    assert is_edit_id(first)


@pytest.mark.parametrize(
    "change",
    [
        {"image": "f" * 32},
        {"etag": '"another-version"'},
        {"key": f"uploads/{IMAGE}.png"},
        {"body": {**EXAMPLE, "format": "avif"}},
        {"body": {**EXAMPLE, "operations": [{"crop": {"aspect": "1:1"}}]}},
        {"body": {**EXAMPLE, "operations": [{"crop": {"aspect": "1:1", "mode": "content"}}]}},
    ],
)
def test_another_image_version_or_body_is_another_edit(change: dict[str, Any]) -> None:
    base = edit_id(IMAGE, SOURCE, parse_edit_request(EXAMPLE))
    source = SOURCE.model_copy(update={k: v for k, v in change.items() if k in {"etag", "key"}})
    body = change.get("body", EXAMPLE)
    assert edit_id(change.get("image", IMAGE), source, parse_edit_request(body)) != base


def test_filter_order_matters_to_the_edit_id() -> None:
    one = edit_id(IMAGE, SOURCE, parse_edit_request({"operations": [{"filter": "sepia"}, {"filter": "blur"}]}))
    two = edit_id(IMAGE, SOURCE, parse_edit_request({"operations": [{"filter": "blur"}, {"filter": "sepia"}]}))
    assert one != two


# ---------------------------------------------------------------- the request event and the workflow input
def test_edit_requested_is_named_by_the_edit_and_carries_what_the_workflow_needs() -> None:
    request = parse_edit_request(EXAMPLE)
    event = edit_requested(IMAGE, SOURCE, request, producer="ApiFunction", now=NOW, causation_id="uploads/x#1")
    edit = edit_id(IMAGE, SOURCE, request)
    assert event.type is EventType.EDIT_REQUESTED
    assert event.event_id == request_event_id(edit)
    assert event.image_id == IMAGE  # the correlation id
    assert event.causation_id == "uploads/x#1"
    assert event.data == {"editId": edit, "source": SOURCE.model_dump(), **request.normalized()}
    # Asking again later names the same request (the tracker records it once)
    again = edit_requested(IMAGE, SOURCE, request, producer="ApiFunction", now=datetime.now(UTC))
    assert again.event_id == event.event_id


def test_the_workflow_input_comes_from_the_request_event_and_survives_the_bus() -> None:
    request = parse_edit_request(EXAMPLE)
    event = edit_requested(IMAGE, SOURCE, request, producer="ApiFunction", now=NOW)
    # Through the envelope as EventBridge (or the images table) hands it back
    delivered = PipelineEvent.from_detail(event.type.value, json.loads(json.dumps(event.detail())))
    workflow_input = EditWorkflowInput.from_requested(delivered)
    payload = workflow_input.payload()
    assert payload == {
        "imageId": IMAGE,
        "editId": edit_id(IMAGE, SOURCE, request),
        "requestId": event.event_id,
        "source": {"bucket": "images", "key": SOURCE.key, "etag": SOURCE.etag},
        "operations": request.normalized()["operations"],
        "format": "webp",
        "faces": None,  # always there: the workflow's crop step passes it on (JSONata has no "absent")
    }
    assert EditWorkflowInput.model_validate(payload) == workflow_input  # what a step reads back


def test_only_edit_requested_starts_a_workflow() -> None:
    other = PipelineEvent.new(EventType.IMAGE_UPLOADED, image_id=IMAGE, producer="aws.s3")
    with pytest.raises(ValueError, match="EditRequested"):
        EditWorkflowInput.from_requested(other)


def test_edits_work_and_publish_where_no_upload_rule_looks() -> None:
    work = work_key(IMAGE, "e" * 32, "crop", "png")
    output = edit_output_key(IMAGE, "e" * 32, "webp")
    assert work == f"edits/{IMAGE}/{'e' * 32}/crop.png"
    assert output == f"outputs/{IMAGE}/edits/{'e' * 32}.webp"
    for key in (work, output):
        assert not key.startswith(UPLOADS_PREFIX)
    assert work.startswith(EDITS_WORK_PREFIX)
    assert output.startswith(OUTPUTS_PREFIX)


# ---------------------------------------------------------------- pairing: the map in pairing
def _edit_events() -> tuple[PipelineEvent, EditWorkflowInput]:
    requested = edit_requested(IMAGE, SOURCE, parse_edit_request(EXAMPLE), producer="ApiFunction", now=NOW)
    return requested, EditWorkflowInput.from_requested(requested)


def _answer(edit: EditWorkflowInput, kind: EventType, data: dict[str, Any], seconds: int = 5) -> PipelineEvent:
    return PipelineEvent.new(
        kind,
        image_id=IMAGE,
        producer="EditWorkflow",
        causation_id=edit.request_id,
        event_id=outcome_event_id(edit.edit_id, kind),
        occurred_at=NOW + timedelta(seconds=seconds),
        data={"editId": edit.edit_id, **data},
    )


def test_an_edit_request_is_open_until_its_answer_arrives() -> None:
    requested, edit = _edit_events()
    open_ = derive_state([requested], timedelta(seconds=60))
    assert open_.status is ImageStatus.PROCESSING
    assert open_.missing == (EventType.EDIT_COMPLETED,)
    assert open_.deadline == NOW + timedelta(seconds=60)
    completed = _answer(edit, EventType.EDIT_COMPLETED, {"output": {"key": "k"}})
    done = derive_state([completed, requested, completed], timedelta(seconds=60))  # any order, duplicates
    assert done.status is ImageStatus.COMPLETE
    assert done.current is not None
    assert done.current.request_id == requested.event_id


@pytest.mark.parametrize(
    ("kind", "data", "status", "code"),
    [
        (
            EventType.EDIT_REJECTED,
            {"step": "crop", "reason": "truncated", "message": "ends early"},
            "REJECTED",
            "truncated",
        ),
        (
            EventType.EDIT_FAILED,
            {"step": "filter", "reason": "step_failed", "message": "filter failed"},
            "FAILED",
            "step_failed",
        ),
    ],
)
def test_a_refused_or_failed_edit_closes_its_request(
    kind: EventType, data: dict[str, Any], status: str, code: str
) -> None:
    requested, edit = _edit_events()
    state = derive_state([requested, _answer(edit, kind, data)], timedelta(seconds=60))
    assert state.status.value == status
    assert state.reason_code == code
    assert state.reason == data["message"]


def test_an_edits_status_is_derived_from_its_own_events_only() -> None:
    # Given an image with an upload answered in full, and two edits: one done, one still running
    upload = PipelineEvent.new(
        EventType.IMAGE_UPLOADED, image_id=IMAGE, producer="aws.s3", event_id="u#1", occurred_at=NOW
    )
    answers = [
        PipelineEvent.new(kind, image_id=IMAGE, producer="p", causation_id="u#1", occurred_at=NOW)
        for kind in (EventType.THUMBNAIL_CREATED, EventType.RENDITIONS_CREATED, EventType.IMAGE_ANALYZED)
    ]
    done_request, done = _edit_events()
    running_request = edit_requested(
        IMAGE, SOURCE, parse_edit_request({"operations": [{"filter": "blur"}]}), producer="ApiFunction", now=NOW
    )
    running = EditWorkflowInput.from_requested(running_request)
    stall = PipelineEvent.new(
        EventType.IMAGE_PROCESSING_STALLED, image_id=IMAGE, producer="StallSweeper", causation_id=running.request_id
    )
    everything = [upload, *answers, done_request, running_request, _answer(done, EventType.EDIT_COMPLETED, {}), stall]
    # Then each edit's status comes from its own events
    assert [e.event_id for e in edit_events(everything, done.edit_id)] == [
        done_request.event_id,
        outcome_event_id(done.edit_id, EventType.EDIT_COMPLETED),
    ]
    assert derive_state(edit_events(everything, done.edit_id), timedelta(seconds=60)).status is ImageStatus.COMPLETE
    stalled = derive_state(edit_events(everything, running.edit_id), timedelta(seconds=60))
    assert stalled.status is ImageStatus.STALLED
    assert stalled.missing == (EventType.EDIT_COMPLETED,)


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (None, EditStatus.RUNNING, None),
        ((EventType.EDIT_COMPLETED, {"output": {"key": "k"}}), EditStatus.COMPLETE, None),
        (
            (EventType.EDIT_REJECTED, {"step": "crop", "reason": "corrupt", "message": "bad"}),
            EditStatus.REJECTED,
            "corrupt",
        ),
        (
            (EventType.EDIT_FAILED, {"step": "crop", "reason": "step_failed", "message": "x"}),
            EditStatus.FAILED,
            "step_failed",
        ),
    ],
)
def test_edit_state_names_the_status_the_api_reports(
    answer: tuple[EventType, dict[str, Any]] | None, status: EditStatus, code: str | None
) -> None:
    requested, edit = _edit_events()
    events = [requested] if answer is None else [requested, _answer(edit, *answer)]
    state = edit_state(events, edit.edit_id, timedelta(seconds=60))
    assert state is not None
    assert (state.status, state.reason_code) == (status, code)
    assert state.requested == requested
    assert (state.answer is None) == (answer is None)


def test_edit_state_of_an_edit_never_requested_is_none() -> None:
    requested, edit = _edit_events()
    stray = _answer(edit, EventType.EDIT_COMPLETED, {})
    assert edit_state([stray], edit.edit_id, timedelta(seconds=60)) is None
    assert edit_state([requested], "f" * 32, timedelta(seconds=60)) is None


def test_a_stalled_edit_is_stalled() -> None:
    requested, edit = _edit_events()
    stall = PipelineEvent.new(
        EventType.IMAGE_PROCESSING_STALLED, image_id=IMAGE, producer="StallSweeper", causation_id=edit.request_id
    )
    state = edit_state([requested, stall], edit.edit_id, timedelta(seconds=60))
    assert state is not None
    assert (state.status, state.reason_code) == (EditStatus.STALLED, "stalled")
