"""EditCropFunction: the EditWorkflow's crop step (to an aspect, at the size the output needs).

Invoked by the EditWorkflow (Step Functions), never by an event source: the workflow retries
Lambda's transient errors and catches the rest. A refused image is returned as data.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.edit_workflow import edit_steps
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.editing import EditSteps, StepInput
from image_pipeline.settings import EditStepSettings

settings = EditStepSettings.from_env()
logger = function_logger()


@cache
def aws_steps() -> EditSteps:
    return edit_steps(settings)


@observed
@logger.inject_lambda_context(correlation_id_path="imageId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext, steps: EditSteps | None = None) -> dict[str, Any]:
    return (steps or aws_steps()).crop(StepInput.model_validate(event)).payload()
