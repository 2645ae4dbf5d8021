"""What every route needs, handed to it by Powertools' ``Depends``: the ports, the settings and
the clock, all chosen by the handler (the AWS adapters, or a test's)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Depends, Request

from image_pipeline.image_api import Downloads, UploadLimits
from image_pipeline.ports import EditStarter, EventPublisher, ImageLog, ObjectStore
from image_pipeline.settings import ApiSettings

Adapters = tuple[ObjectStore, ImageLog, EditStarter, EventPublisher]
# A wait stops this long before the function would time out: the last read and the answer fit.
WAIT_MARGIN_SECONDS: Final = 2.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiDeps:
    settings: ApiSettings
    store: ObjectStore
    images: ImageLog
    starter: EditStarter
    publisher: EventPublisher  # the API's requests, also on the app bus
    log: Logger
    seconds_left: Callable[[], float]  # before the invocation times out
    now: Callable[[], datetime] = _utc_now
    clock: Callable[[], float] = time.monotonic
    pause: Callable[[float], None] = field(default=time.sleep)

    @property
    def downloads(self) -> Downloads:
        return Downloads(self.store, self.settings.images_bucket, self.settings.download_url_ttl_seconds)

    @property
    def limits(self) -> UploadLimits:
        settings = self.settings
        return UploadLimits(settings.images_bucket, settings.max_upload_bytes, settings.upload_url_ttl_seconds)

    def wait_budget(self, asked: float) -> float:
        """How long a request may wait: what it asked, within the invocation's time."""
        return max(0.0, min(asked, self.seconds_left() - WAIT_MARGIN_SECONDS))


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.context["deps"]
    return deps


Deps = Annotated[ApiDeps, Depends(_deps)]
