"""Naming what arrived when a function receives an event it does not handle.

A function wired to the wrong source, or invoked by hand with another function's sample event,
answers with :class:`UnsupportedEvent`: one sentence saying what it expected and what it got,
never a ``KeyError`` from deep inside a parser.
"""

from typing import Any


class UnsupportedEvent(ValueError):
    """The function does not handle this kind of event (a wiring or invocation mistake)."""

    def __init__(self, function: str, expected: str, event: object, problem: str | None = None) -> None:
        self.function = function
        self.expected = expected
        self.got = describe(event) + (f" ({problem})" if problem else "")
        super().__init__(f"{function} handles {expected}; it got {self.got}")

    def result(self) -> dict[str, str]:
        """What the function answers instead of a traceback."""
        return {"unsupported": str(self), "expected": self.expected, "got": self.got}


def _describe_records(records: list[Any]) -> str:
    first = records[0] if records and isinstance(records[0], dict) else {}
    source = first.get("eventSource") or first.get("EventSource")
    if source == "aws:sqs" or "body" in first:
        return f"an SQS batch of {len(records)} message(s)"
    if source == "aws:s3" or "s3" in first:
        return f"an S3 notification ({first.get('eventName', 'unknown event')})"
    if source:
        return f"a {source} batch"
    return f"a batch of {len(records)} record(s)"


def describe(event: object) -> str:
    """A short, human description of an event's shape ("an S3 notification (ObjectCreated:Put)")."""
    if not isinstance(event, dict):
        return f"a JSON {type(event).__name__}" if event is not None else "nothing (null)"
    if "httpMethod" in event or "requestContext" in event:
        return f"an API Gateway request ({event.get('httpMethod', '?')} {event.get('path', '?')})"
    if isinstance(event.get("Records"), list):
        return _describe_records(event["Records"])
    if "detail-type" in event:
        return f"an EventBridge event {event.get('detail-type')!r} from {event.get('source')!r}"
    if not event:
        return "an empty object"
    return f"an object with keys {', '.join(sorted(map(str, event))[:6])}"


def is_sqs_batch(event: object) -> bool:
    """An SQS event source's batch: ``Records`` of messages (each with a ``messageId`` and a ``body``)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and "body" in r and "messageId" in r for r in records)
    )


def is_scheduled_event(event: object) -> bool:
    """A tick of an EventBridge schedule (what a ``Schedule`` event source delivers)."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )
