"""Logging shared by every function."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers


def function_logger() -> Logger:
    """The function's Powertools logger, also used by the domain modules' standard loggers, so
    every line is JSON and carries the same correlation id (the image id)."""
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include={"image_pipeline"})
    return logger
