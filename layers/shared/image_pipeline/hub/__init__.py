"""The event hub's domain: validate and republish (``validation``), live daily aggregates
(``aggregates``) and the history archive's record shape and report queries (``history``).

Pure code: the AWS adapters live in ``image_pipeline.aws.hub`` and ``image_pipeline.aws.stats``.
"""

VALID_PREFIX = "valid."


def is_republished(source: str) -> bool:
    """A ``valid.*`` source: an event the hub already validated. It is never forwarded again."""
    return source.startswith(VALID_PREFIX)


def republished_source(source: str) -> str:
    if is_republished(source):
        raise ValueError(f"{source!r} was already republished: republishing it again would loop")
    return f"{VALID_PREFIX}{source}"
