"""Typed settings of the hub's and the consumers' functions (see ``image_pipeline.settings``)."""

from pydantic import Field

from image_pipeline.settings import Settings


class ValidatorSettings(Settings):
    central_bus_name: str
    quarantine_queue_url: str
    republished_table: str
    producer_sources: str = Field(min_length=1)  # comma-separated, as the template's list parameter joins it

    def sources(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.producer_sources.split(",") if s.strip())


class AggregatorSettings(Settings):
    stats_table: str
    stats_api_url: str  # the GraphQL API whose subscription gets each update
    stats_api_id: str


class ArchiveBridgeSettings(Settings):
    delivery_stream_name: str
