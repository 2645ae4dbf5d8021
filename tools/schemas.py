"""The schema registry (layers/shared/image_pipeline/contracts) for people and for AWS.

    python -m tools.schemas table                 # the README's table of event types
    python -m tools.schemas export DIR            # one full JSON Schema file per type and version
    python -m tools.schemas publish REGISTRY      # upload them to an EventBridge schema registry (AWS)

The hub template creates the registry (output of its stack: ``<stack>-events``); consumers then
download code bindings for the events they read. The local engine has no Schemas API.
"""

import argparse
import json
from pathlib import Path

import boto3

from image_pipeline import contracts


def markdown_table() -> str:
    rows = ["| Event (detail-type) | Version | Published by | What it says |", "| --- | --- | --- | --- |"]
    for sid in contracts.registered():
        owners = ", ".join(f"`{o}`" for o in sorted(contracts.OWNERS.get(sid.detail_type, ())))
        description = contracts.schema(sid.detail_type, sid.version)["description"]
        rows.append(f"| `{sid.detail_type}` | {sid.version} | {owners} | {description} |")
    return "\n".join(rows)


def export(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for sid in contracts.registered():
        path = target / f"{sid.detail_type}.v{sid.version}.json"
        path.write_text(json.dumps(contracts.schema(sid.detail_type, sid.version), indent=2) + "\n")
        written.append(path)
    return written


def publish(registry: str) -> None:
    schemas = boto3.client("schemas")
    for sid in contracts.registered():
        name = f"{sid.detail_type}.v{sid.version}"
        content = json.dumps(contracts.schema(sid.detail_type, sid.version))
        try:
            schemas.update_schema(RegistryName=registry, SchemaName=name, Type="JSONSchemaDraft4", Content=content)
        except schemas.exceptions.NotFoundException:
            schemas.create_schema(RegistryName=registry, SchemaName=name, Type="JSONSchemaDraft4", Content=content)
        print(f"published {name} to {registry}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["table", "export", "publish"])
    parser.add_argument("target", nargs="?", help="export: a directory; publish: the registry name")
    args = parser.parse_args()
    if args.command == "table":
        print(markdown_table())
    elif not args.target:
        parser.error(f"{args.command} needs a target")
    elif args.command == "export":
        for path in export(Path(args.target)):
            print(path)
    else:
        publish(args.target)


if __name__ == "__main__":
    main()
