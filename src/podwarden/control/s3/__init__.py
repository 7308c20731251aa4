"""Amazon S3 of the local AWS account: buckets, objects and multipart uploads.

The protocol layer speaks rest-xml (signing name ``s3``, path-style and virtual-hosted-style
addressing on loopback) and maps members to the wire: ``Body`` is the payload, ``Metadata`` the
``x-amz-meta-*`` headers, ``ETag``/``ContentType``/``ContentRange``... their headers. A GetObject
or HeadObject result with ``ContentRange`` is a 206 Partial Content; a raised ``not-modified`` is
a 304 without a body; HeadBucket and HeadObject errors have no body on the wire. Handlers raise
domain errors with reasons; S3's codes, statuses, messages and ``<Error>`` elements are
``podwarden.wire.errors_s3``'s.

The parts:

* ``names``: bucket naming and key length rules, and the region a CreateBucket's
  LocationConstraint gives;
* ``records``: buckets, objects, uploads and parts as records (bodies as blobs) in the data
  directory's database;
* ``access``: a bucket is its owner's only;
* ``buckets``: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket;
* ``objects``: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject;
* ``listing``: ListObjectsV2 and ListObjects, and the walk they share (prefix, delimiter,
  markers, continuation tokens);
* ``multipart``: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
  ListMultipartUploads, AbortMultipartUpload;
* ``completion``: CompleteMultipartUpload, and its answer to a retry after success;
* ``http``: byte ranges, part numbers, conditional requests, Content-MD5.

HyperPod's lookup of an instance group's lifecycle scripts in this S3 is
``podwarden.control.lifecycle_scripts``.

Not emulated: versioning, bucket policies/ACLs/CORS/lifecycle rules,
presigned URLs (a protocol-layer matter), storage class transitions, object locking.
"""

from podwarden.control.registry import merge
from podwarden.control.s3 import buckets, completion, listing, multipart, objects

OPERATIONS = merge(
    buckets.OPERATIONS,
    objects.OPERATIONS,
    listing.OPERATIONS,
    multipart.OPERATIONS,
    completion.OPERATIONS,
)
