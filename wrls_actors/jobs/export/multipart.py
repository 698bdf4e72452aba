"""A write-only stream into one S3 object, by multipart upload: the object appears only when it is complete.

Bytes are gathered into a part of at least ``part_bytes`` and sent when it is
full, so memory holds one part whatever the object's size. ``complete()``
makes the object; anything else (an error, a killed worker) leaves the object
that was there before: the upload is aborted on failure, and an upload left
behind by a killed attempt is aborted by the next one.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class MultipartUpload:
    def __init__(self, client, bucket: str, key: str, part_bytes: int, metadata: dict[str, str]) -> None:
        self.client, self.bucket, self.key, self.part_bytes = client, bucket, key, part_bytes
        self._abort_leftovers()
        self.upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="application/gzip", Metadata=metadata
        )["UploadId"]
        self.parts: list[dict] = []
        self.buffer = bytearray()
        self.bytes_written = 0

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= self.part_bytes:
            self._send()
        return len(data)

    def flush(self) -> None:
        """Parts go when full; S3 refuses small ones but the last."""

    def _send(self) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buffer)
        )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.bytes_written += len(self.buffer)
        self.buffer = bytearray()

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._send()
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except Exception:  # the step's own error is the one to report; the next attempt aborts it again
            logger.exception("could not abort the upload of s3://%s/%s", self.bucket, self.key)

    def _abort_leftovers(self) -> None:
        """Uploads of this key a killed attempt left open (one export runs at a time, so none is live)."""
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key)
        for upload in listing.get("Uploads", []):
            if upload["Key"] == self.key:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload["UploadId"])
                logger.info("aborted the upload of s3://%s/%s a previous attempt left open", self.bucket, self.key)
