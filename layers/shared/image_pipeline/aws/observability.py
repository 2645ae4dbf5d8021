"""Logging, metrics and tracing shared by every function.

Handlers take all of it with one decorator line, ``@observed``: the metrics recorded during the
invocation are flushed as CloudWatch embedded metrics (EMF) when it ends, a ``ColdStart`` metric
marks cold starts, and on AWS with X-Ray on the handler is traced (and boto3 calls with it).

The image functions' adapters are wrapped by :func:`measured`, which turns what flows through
them into the metrics operators ask about, per job (the catalogue's job names):

========================  ======  ====================================================
metric                    unit    dimensions (all low-cardinality)
========================  ======  ====================================================
``ImagesProcessed``       Count   service, job
``ImagesRejected``        Count   service, job, reason (``truncated``, ``too_many_pixels``...)
``ImagesFailed``          Count   service, job, reason (``source_missing``)
``ProcessingTime``        ms      service, job (from reading the upload to publishing the answer)
``BytesIn``/``BytesOut``  Bytes   service, job (the upload; every output written)
``ColdStart``             Count   service, function_name
``StalledImages``         Count   service (the stall sweeper)
========================  ======  ====================================================

The tracer is imported lazily, only where it runs (Tracer and the X-Ray SDK cost ~0.4 s of cold
start): the local engine and the tests never load it.
"""

import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from image_pipeline.catalogue import JOBS
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.ports import EventPublisher, ObjectInfo, ObjectStore, PresignedUpload, StoredObject

# An invocation that records no metric of its own (e.g. an API call) is normal, not a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "image-pipeline")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ImagePipeline")
# The jobs by their answers, from the catalogue (which, unlike the operations, needs no Pillow).
JOB_OF_RESPONSE = {job.response: job.name for job in JOBS}
OUTCOME_METRIC = {EventType.IMAGE_REJECTED: "ImagesRejected", EventType.IMAGE_PROCESSING_FAILED: "ImagesFailed"}

metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def function_logger() -> Logger:
    """The function's Powertools logger, also used by the domain modules' standard loggers, so
    every line is JSON and carries the same correlation id (the image id)."""
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include={"image_pipeline"})
    return logger


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """X-Ray runs here: Lambda with active tracing sets the daemon address (the local engine and
    the tests do not), and ``POWERTOOLS_TRACE_DISABLED`` can still turn it off."""
    disabled = environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
    return bool(environ.get("AWS_XRAY_DAEMON_ADDRESS")) and not disabled


def observed[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """The one decorator a handler needs for metrics (cold start included) and tracing."""
    flushed: Callable[P, R] = metrics.log_metrics(capture_cold_start_metric=True)(handler)
    if not tracing_enabled():
        return flushed
    from aws_lambda_powertools import Tracer  # noqa: PLC0415  # lazily: only where X-Ray runs

    traced: Callable[P, R] = Tracer(service=SERVICE).capture_lambda_handler(flushed)
    return traced


def emit(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One EMF record with its own dimensions (the invocation's other metrics keep theirs)."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


@dataclass
class _Reading:
    """The upload being answered: when reading it started, its size, and what was written."""

    started: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0


@dataclass
class MeasuredStore(ObjectStore):
    """An object store that remembers what the current job read and wrote."""

    inner: ObjectStore
    reading: _Reading = field(default_factory=_Reading)

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> StoredObject:
        self.reading.started = time.perf_counter()
        self.reading.bytes_in = self.reading.bytes_out = 0  # a read that fails read nothing (not the last upload)
        stored = self.inner.get(bucket, key, etag=etag)
        self.reading.bytes_in = len(stored.data)
        return stored

    def head(self, bucket: str, key: str) -> ObjectInfo:
        return self.inner.head(bucket, key)

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        self.inner.put(bucket, key, data, content_type=content_type, metadata=metadata)
        self.reading.bytes_out += len(data)

    def presigned_upload(
        self,
        *,
        bucket: str,
        key: str,
        content_type: str,
        max_bytes: int,
        metadata: Mapping[str, str],
        expires_in: int,
    ) -> PresignedUpload:
        return self.inner.presigned_upload(
            bucket=bucket,
            key=key,
            content_type=content_type,
            max_bytes=max_bytes,
            metadata=metadata,
            expires_in=expires_in,
        )

    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str:
        return self.inner.download_url(bucket, key, expires_in=expires_in)


@dataclass
class MeasuredPublisher(EventPublisher):
    """A publisher that turns each published answer into the job's metrics, once it is out."""

    inner: EventPublisher
    reading: _Reading

    def publish(self, events: Sequence[PipelineEvent]) -> None:
        self.inner.publish(events)
        for event in events:
            self._record(event)

    def _record(self, event: PipelineEvent) -> None:
        job = JOB_OF_RESPONSE.get(event.type) or str(event.data.get("job", "unknown"))
        if event.type in OUTCOME_METRIC:
            reason = str(event.data.get("reason", "unknown"))
            emit(OUTCOME_METRIC[event.type], MetricUnit.Count, 1, job=job, reason=reason)
        elif event.type in JOB_OF_RESPONSE:
            emit("ImagesProcessed", MetricUnit.Count, 1, job=job)
            emit("BytesOut", MetricUnit.Bytes, self.reading.bytes_out, job=job)
        else:
            return
        if self.reading.started:
            elapsed_ms = (time.perf_counter() - self.reading.started) * 1000
            emit("ProcessingTime", MetricUnit.Milliseconds, round(elapsed_ms, 1), job=job)
            emit("BytesIn", MetricUnit.Bytes, self.reading.bytes_in, job=job)
        self.reading.started = 0.0


def measured(store: ObjectStore, publisher: EventPublisher) -> tuple[MeasuredStore, MeasuredPublisher]:
    """The image functions' adapters, wrapped so every answer is counted and timed."""
    measured_store = MeasuredStore(store)
    return measured_store, MeasuredPublisher(publisher, measured_store.reading)
