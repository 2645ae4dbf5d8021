"""What every route needs, handed to it by Powertools' ``Depends``: the ports, the settings and
the clock, all chosen by the handler (the AWS adapters, or a test's)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Depends, Request

from image_pipeline.api_models import WatchView
from image_pipeline.image_api import Downloads, UploadLimits
from image_pipeline.notify.callbacks import CallbackChecker
from image_pipeline.notify.watch import WatchLinks
from image_pipeline.ports import EditStarter, EventPublisher, ImageLog, ObjectStore
from image_pipeline.settings import ApiSettings

Adapters = tuple[ObjectStore, ImageLog, EditStarter, EventPublisher]


@dataclass(frozen=True)
class Push:
    """What the API needs of results coming back (the push stack delivers them): where webhooks
    may go, and the watch links it hands out."""

    callbacks: CallbackChecker
    watch: WatchLinks


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
    push: Push
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

    def watch(self, image_id: str) -> WatchView | None:
        """The ``watch`` object for the image (None: no push stack beside the app)."""
        link = self.push.watch.for_image(image_id, self.now())
        return WatchView(url=link.url, expires_at=link.expires_at.isoformat()) if link is not None else None

    def wait_budget(self, asked: float) -> float:
        """How long a request may wait: what it asked, within the invocation's time."""
        return max(0.0, min(asked, self.seconds_left() - WAIT_MARGIN_SECONDS))


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.context["deps"]
    return deps


Deps = Annotated[ApiDeps, Depends(_deps)]
