"""The limits an image function decodes under are the stack's parameters, and a refusal names the
parameter that set the limit it broke: the name a user must change is the one that does it."""

import pytest

from image_pipeline.aws.edit_workflow import edit_steps
from image_pipeline.aws.upload_jobs import upload_responder
from image_pipeline.imaging import THUMBNAIL, ImageLimits, ImageRejected, render
from image_pipeline.imaging.limits import PARAMETERS
from image_pipeline.settings import EditStepSettings, ProcessorSettings
from tests import template
from tests.unit.imaging import samples


def _environment(function: str) -> dict[str, str]:
    """The function's environment as the template sets it, each limit given a value of its own
    (1000 + the field's length) through the variable that carries its parameter."""
    variables = template.function_properties(function)["Environment"]["Variables"]
    environment = template.function_environment(function)
    for field, parameter in PARAMETERS.items():
        (variable,) = [name for name, value in variables.items() if value == {"Ref": parameter}]
        environment[variable] = str(1000 + len(field))
    return environment


def _assert_set_by_parameters(limits: ImageLimits) -> None:
    for field in PARAMETERS:
        assert getattr(limits, field) == 1000 + len(field), field


def test_the_upload_functions_decode_under_the_parameters_their_refusals_name() -> None:
    settings = ProcessorSettings.from_env(_environment("ThumbnailFunction"))
    _assert_set_by_parameters(upload_responder(settings, producer="test").limits)


def test_the_edit_steps_decode_under_the_parameters_their_refusals_name() -> None:
    settings = EditStepSettings.from_env(_environment("EditCropFunction"))
    _assert_set_by_parameters(edit_steps(settings).limits)


@pytest.mark.parametrize("field", list(PARAMETERS))
def test_every_limit_a_refusal_names_is_a_parameter_of_the_stack(field: str) -> None:
    # Given the stack parameter behind the limit, and an image that breaks only this limit
    assert "Default" in template.load()["Parameters"][PARAMETERS[field]]
    limits = {
        "max_pixels": ImageLimits(max_pixels=4),
        "max_side": ImageLimits(max_side=4),
        "max_frames": ImageLimits(max_frames=4),
    }[field]
    image = samples.animated_gif(5) if field == "max_frames" else samples.encode(samples.photo((5, 1)), "PNG")
    with pytest.raises(ImageRejected) as rejected:
        render(image, [THUMBNAIL], limits)
    # Then the sentence names that parameter
    assert f"({PARAMETERS[field]})" in str(rejected.value)
