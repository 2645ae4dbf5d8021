"""S3 adapter: objects, presigned uploads and download links."""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from image_pipeline.ports import ObjectChanged, ObjectInfo, ObjectMissing, ObjectStore, PresignedUpload, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# On AWS a missing key answers 404 only to a role that may s3:ListBucket (else 403): the
# functions that read uploads are granted it, scoped to uploads/.
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_CHANGED = frozenset({"PreconditionFailed", "412"})


class S3ObjectStore(ObjectStore):
    def __init__(self, client: "S3Client | None" = None) -> None:
        # SigV4 everywhere: presigned URLs are then valid in every region.
        self._s3 = client or boto3.client("s3", config=Config(signature_version="s3v4"))

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> StoredObject:
        # IfMatch: read exactly the version an event announced, or learn that it was replaced.
        try:
            if etag:
                response = self._s3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag.strip(chr(34))}"')
            else:
                response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _MISSING:
                raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from exc
            if code in _CHANGED:
                raise ObjectChanged(
                    f"s3://{bucket}/{key} no longer has ETag {etag}: a newer upload replaced it"
                ) from exc
            raise
        return StoredObject(
            data=response["Body"].read(),
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata", {}),
        )

    def head(self, bucket: str, key: str) -> ObjectInfo:
        try:
            response = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from exc
            raise
        return ObjectInfo(
            size=int(response["ContentLength"]),
            etag=str(response["ETag"]).strip('"'),
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata", {}),
        )

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata=dict(metadata),
            CacheControl="public, max-age=31536000, immutable",  # outputs never change once written
        )

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
        meta_fields = {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        fields = {"Content-Type": content_type, **meta_fields}
        conditions: list[object] = [
            ["content-length-range", 1, max_bytes],
            {"Content-Type": content_type},
            *({name: value} for name, value in meta_fields.items()),
        ]
        post = self._s3.generate_presigned_post(
            Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        return PresignedUpload(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})

    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
