"""How buckets and objects are kept in the generic record store (``podwarden.store.resources``).

* A bucket is a record of kind ``s3:bucket`` in scope ``""`` (bucket names are global across
  accounts and regions), keyed by its name; its doc holds the owning account, the region and
  the LocationConstraint it was created with.
* An object is a record of kind ``s3:object`` in scope ``""``, keyed ``"<bucket>/<key>"``, with
  the bucket's name as parent (so a bucket's objects list without scanning others); its doc
  holds the key and what S3 reports about it (ETag, size, LastModified, content headers, user
  metadata, storage class). The body is the record's blob, written in the same transaction as
  the doc, so a PutObject is atomic and a reader sees either the old object or the new one,
  never a doc without its body. Blobs live in the SQLite database of the data directory.

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
    """An object's record, with its doc's fields typed."""

    record: Record

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
    def storage_class(self) -> str:
        return str(self.doc.get("StorageClass") or "STANDARD")


def get_object(resources: Resources, bucket: str, key: str) -> StoredObject | None:
    rec = resources.get(OBJECT, SCOPE, object_id(bucket, key))
    return None if rec is None else StoredObject(rec)


def body(resources: Resources, obj: StoredObject) -> bytes:
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
    rec = Record(
        kind=OBJECT,
        scope=SCOPE,
        key=object_id(bucket, str(doc["Key"])),
        doc=doc,
        parent=bucket,
        created=now,
    )
    return StoredObject(resources.put(rec, data))


def create_object(
    resources: Resources, bucket: str, doc: dict[str, Any], data: bytes, *, now: float
) -> StoredObject:
    """Create only if absent (``Duplicate`` otherwise): PutObject's ``If-None-Match: *``,
    atomic because the store's insert is."""
    rec = Record(
        kind=OBJECT,
        scope=SCOPE,
        key=object_id(bucket, str(doc["Key"])),
        doc=doc,
        parent=bucket,
        created=now,
    )
    return StoredObject(resources.create(rec, data))


def delete_object(resources: Resources, bucket: str, key: str) -> bool:
    return resources.delete(OBJECT, SCOPE, object_id(bucket, key))
