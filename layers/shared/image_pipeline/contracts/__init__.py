"""The event contracts: the schema registry and who owns each event type.

One JSON Schema file per event type and version, ``schemas/<DetailType>.v<N>.json``, describes the
event's ``data``; ``schemas/envelope.v1.json`` describes what every event shares (``metadata`` +
``data``). :func:`schema` joins the two into one self-contained JSON Schema (draft-04, the dialect
EventBridge's schema registry takes). The same schemas drive the hub's validator, the producers'
tests, the README table and the registry published on AWS.

``OWNERS`` names, for each event type, the producers (``metadata.producer``) allowed to publish it,
as the catalogue (``image_pipeline.catalogue``) declares them. IAM conditions in template.yaml, the
tracker's owner check and the hub's validation all follow it. The schemas' ``job`` and ``status``
fields refer to ``#/definitions/job`` and ``#/definitions/status`` (``editStatus`` for an edit's),
which :func:`schema` fills in with the catalogue's job names and statuses.

An event names its schema version in ``metadata.schemaVersion``; events without one are version 1.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

from image_pipeline import catalogue

SCHEMAS = Path(__file__).parent / "schemas"
ENVELOPE = "envelope.v1.json"

# detail-type -> the producers that may publish it (the envelope's metadata.producer).
OWNERS: Mapping[str, frozenset[str]] = {t.value: catalogue.owners(t) for t in catalogue.EventType}


class ContractViolation(ValueError):
    """The event breaks its contract; ``reason`` is a stable code, the message says what broke."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ForeignProducer(ContractViolation):
    """The event claims a producer that does not own its type."""


@dataclass(frozen=True)
class SchemaId:
    detail_type: str
    version: int

    @property
    def file(self) -> Path:
        return SCHEMAS / f"{self.detail_type}.v{self.version}.json"

    def __str__(self) -> str:
        return f"{self.detail_type} v{self.version}"


def registered() -> list[SchemaId]:
    """Every schema in the registry, by type then version."""
    found = []
    for path in SCHEMAS.glob("*.v*.json"):
        name, _, version = path.name.removesuffix(".json").rpartition(".v")
        if path.name != ENVELOPE:
            found.append(SchemaId(name, int(version)))
    return sorted(found, key=lambda s: (s.detail_type, s.version))


_CATALOGUE_DEFINITIONS = {
    "job": {"type": "string", "enum": list(catalogue.job_names())},
    "status": {"type": "string", "enum": [status.value for status in catalogue.ImageStatus]},
    "editStatus": {"type": "string", "enum": [status.value for status in catalogue.EditStatus]},
}


@cache
def schema(detail_type: str, version: int = 1) -> dict[str, Any]:
    """The full JSON Schema of one event type and version: the envelope with this type's data."""
    sid = SchemaId(detail_type, version)
    if not sid.file.is_file():
        raise ContractViolation("unknown_schema", f"no schema for {sid} in the registry")
    envelope = json.loads((SCHEMAS / ENVELOPE).read_text())
    data = json.loads(sid.file.read_text())
    definitions = data.pop("definitions", {})
    # The catalogue owns these: a new job is a valid ``job`` in every schema at once.
    for name, owned in _CATALOGUE_DEFINITIONS.items():
        if f'"#/definitions/{name}"' in json.dumps([data, definitions]):
            definitions[name] = owned
    full = {**envelope, "title": f"{detail_type} v{version}", "description": data.get("description", "")}
    full["properties"] = {**envelope["properties"], "data": data}
    if definitions:
        full["definitions"] = definitions
    return full


@cache
def _validator(detail_type: str, version: int) -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema(detail_type, version))


def schema_version(detail: Mapping[str, Any]) -> int:
    metadata = detail.get("metadata")
    version = metadata.get("schemaVersion", 1) if isinstance(metadata, Mapping) else 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ContractViolation("bad_schema_version", f"metadata.schemaVersion must be a positive integer: {version!r}")
    return version


def check_owner(detail_type: str, producer: str) -> None:
    """Raise :class:`ForeignProducer` unless ``producer`` owns ``detail_type``.

    The tracker calls this on every app-bus event, so a role that may publish on the bus cannot
    pass off one producer's event (say ``ThumbnailCreated``) as another's.
    """
    owners = OWNERS.get(detail_type)
    if owners is None:
        raise ContractViolation("unknown_type", f"{detail_type!r} is not an event type of this pipeline")
    if producer not in owners:
        raise ForeignProducer(
            "foreign_producer", f"{detail_type} comes only from {', '.join(sorted(owners))}, not from {producer!r}"
        )


def validate(detail_type: str, detail: Any) -> SchemaId:
    """Check an event's ``detail`` against its contract; return the schema it satisfies.

    Raises :class:`ContractViolation` with a reason code: ``unknown_type``, ``bad_schema_version``,
    ``unknown_schema``, ``schema_mismatch`` or ``foreign_producer``.
    """
    if detail_type not in OWNERS:
        raise ContractViolation("unknown_type", f"{detail_type!r} is not an event type of this pipeline")
    if not isinstance(detail, Mapping):
        raise ContractViolation("schema_mismatch", f"{detail_type}: detail must be a JSON object")
    sid = SchemaId(detail_type, schema_version(detail))
    try:
        _validator(sid.detail_type, sid.version)(detail)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = str(exc.message).replace("data", "detail", 1)  # fastjsonschema calls the root "data"
        raise ContractViolation("schema_mismatch", f"{sid}: {where}") from exc
    check_owner(detail_type, str(detail["metadata"]["producer"]))
    return sid
