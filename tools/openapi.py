"""The REST API's OpenAPI document, as Powertools generates it from the routes and their models:
the one description of the API (``make openapi`` writes it to out/openapi.json), never hand-written.

    python -m tools.openapi [FILE]       # default: out/openapi.json
"""

import json
import sys
from pathlib import Path

from image_pipeline.aws.rest import images_api, openapi

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "out" / "openapi.json"
# CORS is not part of the document: any origin builds the same routes.
ORIGIN = "https://app.example.com"


def write(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(openapi.document(images_api(ORIGIN)), indent=2) + "\n")
    return target


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    written = write(Path(args[0]) if args else DEFAULT)
    print(f"wrote the API's OpenAPI document to {written}")


if __name__ == "__main__":
    main()
