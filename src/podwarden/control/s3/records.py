"""How buckets and objects are kept in the generic record store (``podwarden.store.resources``).

Every S3 record is in scope ``model.aws.scope.GLOBAL`` (bucket names are global across accounts
and regions); the kinds are ``model.aws.kinds``'.

* A bucket is a record of kind ``s3:bucket`` keyed by its name; its doc holds the owning
  account, the region and the LocationConstraint it was created with.
* An object is a record of kind ``s3:object``, keyed ``"<bucket>/<key>"``, with the bucket's
  name as parent (so a bucket's objects list without scanning others); its doc holds the key
  and what S3 reports about it (ETag, size, LastModified, content headers, user metadata,
  storage class; for an object assembled by CompleteMultipartUpload also ``PartSizes``, the
  sizes of its parts in order, which GetObject's ``PartNumber`` reads, and ``UploadId``, the
  upload that made it, by which a retried completion is recognized). The body is the record's
  blob, written in the same transaction as the doc, so a PutObject is atomic and a reader sees
  either the old object or the new one, never a doc without its body. Blobs live in the SQLite
  database of the data directory.
* A multipart upload in progress is a record of kind ``s3:upload``, keyed
  ``"<bucket>/<uploadId>"`` (the upload ID alone names it; the object key is in the doc and must
  match the request's), with the bucket as parent; its doc holds the initiation time, the
  initiator and the doc the object will have (content headers, metadata, storage class, from
  CreateMultipartUpload, the only request that carries them).
* A part is a record of kind ``s3:part`` keyed ``"<bucket>/<uploadId>/<partNumber>"`` (five
  digits, so keys sort by number), with the upload's key as parent; its doc holds the part
  number, ETag, size and LastModified, its blob the part's bytes (doc and blob in one
  transaction, as for objects). Uploading a part number again replaces the part.

LastModified is kept in whole seconds: S3 reports it with second precision (HTTP dates in
headers, ``.000Z`` in listings), and conditional requests compare at that precision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL
from podwarden.store.resources import Record, Resources


def object_id(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def owner_id(account: str) -> str:
    """The canonical user ID S3 shows as an account's Owner.ID: 64 hex digits, stable per
    account (AWS's is opaque too; it is derived here so it needs no state)."""
    return hashlib.sha256(f"podwarden-s3-canonical-user:{account}".encode()).hexdigest()


def timestamp(seconds: float) -> datetime:
    """A kept time as S3 reports it: whole seconds, UTC."""
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def _record(kind: str, key: str, doc: dict[str, Any], parent: str, created: float) -> Record:
    return Record(kind=kind, scope=GLOBAL, key=key, doc=doc, parent=parent, created=created)


def get_bucket(resources: Resources, name: str) -> Record | None:
    return resources.get(kinds.S3_BUCKET, GLOBAL, name)


def list_buckets(resources: Resources) -> list[Record]:
    return sorted(resources.list(kinds.S3_BUCKET, GLOBAL), key=lambda r: r.key)


@dataclass(frozen=True)
class StoredObject:
    """An object's record, with its doc's fields typed; ``data`` is its body when it was read
    with the record (``get_object(..., with_body=True)``), else None (read on demand)."""

    record: Record
    key: str
    etag: str
    size: int
    modified: int  # LastModified, whole seconds
    data: bytes | None = None

    @classmethod
    def of(cls, record: Record, data: bytes | None = None) -> StoredObject:
        doc = record.doc
        return cls(
            record,
            str(doc["Key"]),
            str(doc["ETag"]),
            int(doc["Size"]),
            int(doc["LastModified"]),
            data,
        )

    @property
    def doc(self) -> dict[str, Any]:
        return self.record.doc

    @property
    def part_sizes(self) -> list[int] | None:
        """The sizes of the parts the object was assembled from, in order; None for an object
        not uploaded in parts (or completed before podwarden kept them)."""
        sizes = self.doc.get("PartSizes")
        return None if sizes is None else [int(n) for n in sizes]

    @property
    def storage_class(self) -> str:
        return str(self.doc.get("StorageClass") or "STANDARD")


def get_object(
    resources: Resources, bucket: str, key: str, *, with_body: bool = False
) -> StoredObject | None:
    """An object's record; ``with_body``: its body too, in the same read (one statement, so the
    body is the one written with that doc)."""
    if with_body:
        found = resources.get_with_blob(kinds.S3_OBJECT, GLOBAL, object_id(bucket, key))
        return None if found is None else StoredObject.of(found[0], found[1] or b"")
    rec = resources.get(kinds.S3_OBJECT, GLOBAL, object_id(bucket, key))
    return None if rec is None else StoredObject.of(rec)


def body(resources: Resources, obj: StoredObject) -> bytes:
    if obj.data is not None:
        return obj.data
    return resources.blob(obj.record) or b""


def list_objects(resources: Resources, bucket: str) -> list[StoredObject]:
    """A bucket's objects in S3's listing order (ascending UTF-8 bytes of the key)."""
    objs = [StoredObject.of(r) for r in resources.list(kinds.S3_OBJECT, GLOBAL, parent=bucket)]
    return sorted(objs, key=lambda o: o.key.encode("utf-8", "surrogatepass"))


def has_objects(resources: Resources, bucket: str) -> bool:
    return bool(resources.list(kinds.S3_OBJECT, GLOBAL, parent=bucket))


def _object_record(bucket: str, doc: dict[str, Any], now: float) -> Record:
    return _record(kinds.S3_OBJECT, object_id(bucket, str(doc["Key"])), doc, bucket, now)


def put_object(
    resources: Resources, bucket: str, doc: dict[str, Any], data: bytes, *, now: float
) -> StoredObject:
    """Create or overwrite (last writer wins, as S3) the object ``doc["Key"]`` with ``data``."""
    return StoredObject.of(resources.put(_object_record(bucket, doc, now), data))


def create_object(
    resources: Resources, bucket: str, doc: dict[str, Any], data: bytes, *, now: float
) -> StoredObject:
    """Create only if absent (``Duplicate`` otherwise): PutObject's ``If-None-Match: *``,
    atomic because the store's insert is."""
    return StoredObject.of(resources.create(_object_record(bucket, doc, now), data))


def delete_object(resources: Resources, bucket: str, key: str) -> bool:
    return resources.delete(kinds.S3_OBJECT, GLOBAL, object_id(bucket, key))


# ---- multipart uploads ----------------------------------------------------------------------


def upload_key(bucket: str, upload_id: str) -> str:
    return f"{bucket}/{upload_id}"


def part_key(bucket: str, upload_id: str, number: int) -> str:
    return f"{bucket}/{upload_id}/{number:05d}"


def get_upload(resources: Resources, bucket: str, upload_id: str) -> Record | None:
    return resources.get(kinds.S3_UPLOAD, GLOBAL, upload_key(bucket, upload_id))


def list_uploads(resources: Resources, bucket: str) -> list[Record]:
    """A bucket's uploads in progress, in ListMultipartUploads' order: by key (UTF-8 bytes),
    then by upload ID, which sorts by initiation time (``multipart.new_upload_id``)."""
    uploads = resources.list(kinds.S3_UPLOAD, GLOBAL, parent=bucket)
    return sorted(
        uploads, key=lambda r: (str(r.doc["Key"]).encode("utf-8", "surrogatepass"), r.key)
    )


def create_upload(resources: Resources, bucket: str, upload_id: str, doc: dict[str, Any]) -> None:
    key = upload_key(bucket, upload_id)
    resources.create(_record(kinds.S3_UPLOAD, key, doc, bucket, float(doc["Initiated"])))


def list_parts(resources: Resources, bucket: str, upload_id: str) -> list[Record]:
    """An upload's parts by ascending part number."""
    parts = resources.list(kinds.S3_PART, GLOBAL, parent=upload_key(bucket, upload_id))
    return sorted(parts, key=lambda r: int(r.doc["PartNumber"]))


def put_part(
    resources: Resources, bucket: str, upload_id: str, doc: dict[str, Any], data: bytes
) -> Record:
    """Create or replace part ``doc["PartNumber"]`` with ``data`` (one transaction)."""
    key = part_key(bucket, upload_id, int(doc["PartNumber"]))
    parent = upload_key(bucket, upload_id)
    return resources.put(_record(kinds.S3_PART, key, doc, parent, float(doc["LastModified"])), data)


def delete_part(resources: Resources, bucket: str, upload_id: str, number: int) -> None:
    resources.delete(kinds.S3_PART, GLOBAL, part_key(bucket, upload_id, number))


def delete_upload(resources: Resources, bucket: str, upload_id: str) -> bool:
    """Remove an upload, then its parts; False if the upload was gone already (its parts are
    removed all the same). The upload goes first so that no request finds it once its parts
    start to go; an UploadPart that raced this looks for the upload again after writing its
    part and removes the part (``multipart.upload_part``), so no part outlives its upload."""
    gone = resources.delete(kinds.S3_UPLOAD, GLOBAL, upload_key(bucket, upload_id))
    for part in resources.list(kinds.S3_PART, GLOBAL, parent=upload_key(bucket, upload_id)):
        resources.delete(kinds.S3_PART, GLOBAL, part.key)
    return gone


def delete_uploads(resources: Resources, bucket: str) -> None:
    """Remove every upload in progress of ``bucket``, with its parts (DeleteBucket)."""
    for upload in resources.list(kinds.S3_UPLOAD, GLOBAL, parent=bucket):
        delete_upload(resources, bucket, str(upload.doc["UploadId"]))
