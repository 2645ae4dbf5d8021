"""The EditWorkflow's image steps, wired to AWS from their settings."""

from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.editing import EditSteps
from image_pipeline.imaging import ImageLimits
from image_pipeline.settings import EditStepSettings


def edit_steps(settings: EditStepSettings) -> EditSteps:
    return EditSteps(
        store=S3ObjectStore(),
        bucket=settings.images_bucket,
        limits=ImageLimits(
            max_pixels=settings.max_image_pixels,
            max_side=settings.max_image_side,
            max_frames=settings.max_animation_frames,
        ),
    )
