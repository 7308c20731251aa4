"""How buckets and objects are kept in the generic record store (``podwarden.store.resources``).

* A bucket is a record of kind ``s3:bucket`` in scope ``""`` (bucket names are global across
  accounts and regions), keyed by its name; its doc holds the owning account, the region and
  the LocationConstraint it was created with.
* An object is a record of kind ``s3:object`` in scope ``""``, keyed ``"<bucket>/<key>"``, with
  the bucket's name as parent (so a bucket's objects list without scanning others); its doc
  holds the key and what S3 reports about it (ETag, size, LastModified, content headers, user
  metadata, storage class; for an object assembled by CompleteMultipartUpload also
  ``PartSizes``, the sizes of its parts in order, which GetObject's ``PartNumber`` reads, and
  ``UploadId``, the upload that made it, by which a retried completion is recognized). The
  body is the record's blob, written in the same transaction as the doc, so a PutObject is
  atomic and a reader sees either the old object or the new one, never a doc without its
  body. Blobs live in the SQLite database of the data directory.
* A multipart upload in progress is a record of kind ``s3:upload`` in scope ``""``, keyed
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
from typing import Any

from podwarden.store.resources import Record, Resources

BUCKET = "s3:bucket"
OBJECT = "s3:object"
SCOPE = ""


def object_id(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def owner_id(account: str) -> str:
    """The canonical user ID S3 shows as an account's Owner.ID: 64 hex digits, stable per
    account (AWS's is opaque too; it is derived here so it needs no state)."""
    return hashlib.sha256(f"podwarden-s3-canonical-user:{account}".encode()).hexdigest()


def get_bucket(resources: Resources, name: str) -> Record | None:
    return resources.get(BUCKET, SCOPE, name)


def list_buckets(resources: Resources) -> list[Record]:
    return sorted(resources.list(BUCKET, SCOPE), key=lambda r: r.key)


@dataclass(frozen=True)
class StoredObject:
    """An object's record, with its doc's fields typed; ``data`` is its body when it was read
    with the record (``get_object(..., with_body=True)``), else None (read on demand)."""

    record: Record
    data: bytes | None = None

    @property
    def doc(self) -> dict[str, Any]:
        return self.record.doc

    @property
    def key(self) -> str:
        return str(self.doc["Key"])

    @property
    def etag(self) -> str:
        return str(self.doc["ETag"])

    @property
    def size(self) -> int:
        return int(self.doc["Size"])

    @property
    def modified(self) -> int:
        return int(self.doc["LastModified"])

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
        found = resources.get_with_blob(OBJECT, SCOPE, object_id(bucket, key))
        return None if found is None else StoredObject(found[0], found[1] or b"")
    rec = resources.get(OBJECT, SCOPE, object_id(bucket, key))
    return None if rec is None else StoredObject(rec)


def body(resources: Resources, obj: StoredObject) -> bytes:
    if obj.data is not None:
        return obj.data
    return resources.blob(obj.record) or b""


def list_objects(resources: Resources, bucket: str) -> list[StoredObject]:
    """A bucket's objects in S3's listing order (ascending UTF-8 bytes of the key)."""
    objs = [StoredObject(r) for r in resources.list(OBJECT, SCOPE, parent=bucket)]
    return sorted(objs, key=lambda o: o.key.encode("utf-8", "surrogatepass"))


def has_objects(resources: Resources, bucket: str) -> bool:
    return bool(resources.list(OBJECT, SCOPE, parent=bucket))


def put_object(
    resources: Resources, bucket: str, doc: dict[str, Any], data: bytes, *, now: float
) -> StoredObject:
    """Create or overwrite (last writer wins, as S3) the object ``doc["Key"]`` with ``data``."""
    return StoredObject(resources.put(_object_record(bucket, doc, now), data))


def create_object(
    resources: Resources, bucket: str, doc: dict[str, Any], data: bytes, *, now: float
) -> StoredObject:
    """Create only if absent (``Duplicate`` otherwise): PutObject's ``If-None-Match: *``,
    atomic because the store's insert is."""
    return StoredObject(resources.create(_object_record(bucket, doc, now), data))


def _object_record(bucket: str, doc: dict[str, Any], now: float) -> Record:
    return Record(
        kind=OBJECT,
        scope=SCOPE,
        key=object_id(bucket, str(doc["Key"])),
        doc=doc,
        parent=bucket,
        created=now,
    )


def delete_object(resources: Resources, bucket: str, key: str) -> bool:
    return resources.delete(OBJECT, SCOPE, object_id(bucket, key))


# ---- multipart uploads ----------------------------------------------------------------------

UPLOAD = "s3:upload"
PART = "s3:part"


def upload_key(bucket: str, upload_id: str) -> str:
    return f"{bucket}/{upload_id}"


def part_key(bucket: str, upload_id: str, number: int) -> str:
    return f"{bucket}/{upload_id}/{number:05d}"


def get_upload(resources: Resources, bucket: str, upload_id: str) -> Record | None:
    return resources.get(UPLOAD, SCOPE, upload_key(bucket, upload_id))


def list_uploads(resources: Resources, bucket: str) -> list[Record]:
    """A bucket's uploads in progress, in ListMultipartUploads' order: by key (UTF-8 bytes),
    then by upload ID, which sorts by initiation time (``s3_multipart.new_upload_id``)."""
    uploads = resources.list(UPLOAD, SCOPE, parent=bucket)
    return sorted(
        uploads, key=lambda r: (str(r.doc["Key"]).encode("utf-8", "surrogatepass"), r.key)
    )


def create_upload(resources: Resources, bucket: str, upload_id: str, doc: dict[str, Any]) -> None:
    rec = Record(
        kind=UPLOAD,
        scope=SCOPE,
        key=upload_key(bucket, upload_id),
        doc=doc,
        parent=bucket,
        created=float(doc["Initiated"]),
    )
    resources.create(rec)


def list_parts(resources: Resources, bucket: str, upload_id: str) -> list[Record]:
    """An upload's parts by ascending part number."""
    parts = resources.list(PART, SCOPE, parent=upload_key(bucket, upload_id))
    return sorted(parts, key=lambda r: int(r.doc["PartNumber"]))


def put_part(
    resources: Resources, bucket: str, upload_id: str, doc: dict[str, Any], data: bytes
) -> Record:
    """Create or replace part ``doc["PartNumber"]`` with ``data`` (one transaction)."""
    rec = Record(
        kind=PART,
        scope=SCOPE,
        key=part_key(bucket, upload_id, int(doc["PartNumber"])),
        doc=doc,
        parent=upload_key(bucket, upload_id),
        created=float(doc["LastModified"]),
    )
    return resources.put(rec, data)


def delete_part(resources: Resources, bucket: str, upload_id: str, number: int) -> None:
    resources.delete(PART, SCOPE, part_key(bucket, upload_id, number))


def delete_upload(resources: Resources, bucket: str, upload_id: str) -> bool:
    """Remove an upload, then its parts; False if the upload was gone already (its parts are
    removed all the same). The upload goes first so that no request finds it once its parts
    start to go; an UploadPart that raced this looks for the upload again after writing its
    part and removes the part (``s3_multipart.upload_part``), so no part outlives its upload."""
    gone = resources.delete(UPLOAD, SCOPE, upload_key(bucket, upload_id))
    for part in resources.list(PART, SCOPE, parent=upload_key(bucket, upload_id)):
        resources.delete(PART, SCOPE, part.key)
    return gone


def delete_uploads(resources: Resources, bucket: str) -> None:
    """Remove every upload in progress of ``bucket``, with its parts (DeleteBucket)."""
    for upload in resources.list(UPLOAD, SCOPE, parent=bucket):
        delete_upload(resources, bucket, str(upload.doc["UploadId"]))
