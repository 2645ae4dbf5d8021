"""SQS batches, one message at a time: a message that cannot be handled fails alone, with its
reason logged, and the rest of the batch completes (``ReportBatchItemFailures``).

A batch whose every message failed is reported the same way, message by message, rather than
raised: Lambda then returns each message to its queue exactly as for a partial failure (retried,
then dead-lettered), but the function's answer and its log name each message and what was wrong
with it instead of ending in one traceback. Anything but an SQS batch is answered with
:class:`~image_pipeline.event_shapes.UnsupportedEvent`'s sentence.
"""

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.event_shapes import UnsupportedEvent, is_sqs_batch

BODY_SHOWN = 80  # characters of a broken body quoted in its reason


class UnreadableMessage(ValueError):
    """An SQS message whose body is not what its queue carries (e.g. not JSON)."""


def json_body(record: SQSRecord) -> Any:
    """The message's body as JSON; raises :class:`UnreadableMessage` saying what is wrong with it."""
    try:
        return json.loads(record.body)
    except ValueError as exc:
        shown = record.body[:BODY_SHOWN] + ("..." if len(record.body) > BODY_SHOWN else "")
        raise UnreadableMessage(f"the body is not JSON ({exc}): {shown!r}") from exc


class SqsBatches:
    """How ``function`` takes its queue's batches (one instance per function, at cold start)."""

    def __init__(self, function: str, expected: str, logger: Logger) -> None:
        self.function = function
        self.expected = expected
        self.logger = logger
        self.processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def process(
        self, event: Any, record_handler: Callable[[SQSRecord], Any], context: LambdaContext
    ) -> PartialItemFailureResponse | dict[str, str]:
        if not is_sqs_batch(event):
            unsupported = UnsupportedEvent(self.function, self.expected, event)
            self.logger.error(str(unsupported))
            return unsupported.result()

        def logged(record: SQSRecord) -> Any:
            try:
                return record_handler(record)
            except Exception as exc:
                # a refusal (a ValueError naming what is wrong) needs no traceback; anything else does
                self.logger.warning(
                    "message %s failed: %s",
                    record.message_id,
                    exc,
                    extra={"message_id": record.message_id, "reason": str(exc)},
                    exc_info=not isinstance(exc, ValueError),
                )
                raise

        return process_partial_response(event=event, record_handler=logged, processor=self.processor, context=context)
