"""Where things live in the images bucket, and what an image id looks like.

Any object created under ``uploads/`` is an upload, whoever wrote it: the API's presigned POST
(``uploads/<imageId>.<ext>``), ``aws s3 cp``, a multipart upload, a console drag and drop. Its
image id is derived from its key alone, so every function finds the same id without asking
anyone: the 32-hex id of an API key, else a hash of the key. Outputs go under ``outputs/``, which
the upload rule never matches, so writing an output can never trigger processing again.
"""

import hashlib
import re
import uuid

UPLOADS_PREFIX = "uploads/"
OUTPUTS_PREFIX = "outputs/"

# The extension of an API upload follows its declared content type, never the client's file name.
EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/tiff": "tif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/avif": "avif",
}

_IMAGE_ID = re.compile(r"[0-9a-f]{32}")
_API_UPLOAD_KEY = re.compile(r"uploads/(?P<image_id>[0-9a-f]{32})\.[a-z0-9]{1,5}")
_VERSION = re.compile(r"[0-9A-Fa-f]{1,64}")


def new_image_id() -> str:
    return uuid.uuid4().hex


def is_image_id(value: str) -> bool:
    return _IMAGE_ID.fullmatch(value) is not None


def upload_key(image_id: str, content_type: str) -> str:
    return f"{UPLOADS_PREFIX}{image_id}.{EXTENSIONS[content_type]}"


def is_upload_key(key: str) -> bool:
    """An object key the pipeline processes: anything under ``uploads/`` but a folder marker."""
    return key.startswith(UPLOADS_PREFIX) and len(key) > len(UPLOADS_PREFIX) and not key.endswith("/")


def image_id_for_key(key: str) -> str:
    """The image an upload key belongs to: the id in ``uploads/<id>.<ext>``, else a hash of the key
    (so a second upload to the same key is a new version of the same image)."""
    if match := _API_UPLOAD_KEY.fullmatch(key):
        return match["image_id"]
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def upload_version(sequencer: str) -> str:
    """A path-safe name for one upload of an object: S3's sequencer (hex), or a hash of whatever a
    hand-made event carries instead."""
    if _VERSION.fullmatch(sequencer):
        return sequencer.upper()
    return hashlib.sha256(sequencer.encode()).hexdigest()[:16].upper()


def output_key(image_id: str, version: str, name: str, extension: str, spec: str | None = None) -> str:
    """Outputs are kept per upload, so a link always shows the upload it was made from, and per
    spec version when the job has one, so a reprocess never overwrites what a link still shows and
    one set of outputs never mixes two versions of the specs."""
    folder = f"{version}/{spec}" if spec else version
    return f"{OUTPUTS_PREFIX}{image_id}/{folder}/{name}.{extension}"
