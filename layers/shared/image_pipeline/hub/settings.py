"""Typed settings of the hub's and the consumers' functions (see ``image_pipeline.settings``)."""

from datetime import timedelta

from pydantic import Field, model_validator

from image_pipeline.hub.validation import Producers
from image_pipeline.settings import Settings


class ValidatorSettings(Settings):
    central_bus_name: str
    quarantine_queue_url: str
    republished_table: str
    # The template's list parameters, joined with commas: the sources, and source=account pairs.
    producer_sources: str = Field(min_length=1)
    producer_accounts: str = ""
    hub_account_id: str = Field(pattern=r"^[0-9]{12}$")
    replay_days: int = Field(gt=0)

    @model_validator(mode="after")
    def _producers_parse(self) -> "ValidatorSettings":
        self.producers()  # a malformed source=account pair fails the cold start, not every batch
        return self

    def producers(self) -> Producers:
        return Producers.parse(self.producer_sources, self.producer_accounts, home=self.hub_account_id)

    @property
    def republished_for(self) -> timedelta:
        """How long a republished event id is remembered: the archive's replay window and a day."""
        return timedelta(days=self.replay_days + 1)


class AggregatorSettings(Settings):
    stats_table: str
    stats_api_url: str  # the GraphQL API whose subscription gets each update
    stats_api_id: str


class ArchiveBridgeSettings(Settings):
    delivery_stream_name: str
