"""Where things live in the images bucket, and what an image id looks like.

``uploads/`` is the only prefix the ImageUploaded rule matches; outputs go under ``outputs/``,
so writing an output can never trigger processing again.
"""

import re
import uuid

UPLOADS_PREFIX = "uploads/"
OUTPUTS_PREFIX = "outputs/"

# The extension of an upload follows its declared content type, never the client's file name.
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

_IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_UPLOAD_KEY = re.compile(r"^uploads/(?P<image_id>[0-9a-f]{32})\.(?P<ext>[a-z0-9]{1,5})$")


class NotAnUploadKey(ValueError):
    """An object key outside the ``uploads/{imageId}.{ext}`` layout."""


def new_image_id() -> str:
    return uuid.uuid4().hex


def is_image_id(value: str) -> bool:
    return bool(_IMAGE_ID.match(value))


def upload_key(image_id: str, content_type: str) -> str:
    return f"{UPLOADS_PREFIX}{image_id}.{EXTENSIONS[content_type]}"


def image_id_from_upload_key(key: str) -> str:
    match = _UPLOAD_KEY.match(key)
    if not match:
        raise NotAnUploadKey(f"{key!r} is not an upload key (expected uploads/<32 hex id>.<ext>)")
    return match["image_id"]


def output_key(image_id: str, name: str, extension: str) -> str:
    return f"{OUTPUTS_PREFIX}{image_id}/{name}.{extension}"
