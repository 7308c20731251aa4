"""S3's error codes: what each domain error raised by ``podwarden.control.s3`` becomes on the
wire (see ``podwarden.wire.error_table``), worded as Amazon S3 words it.

The messages are S3's (as its error responses and the SDKs' reports show them), so scripts that
match on them behave as against AWS. ``MEMBERS`` are the extra elements S3 puts in its
``<Error>`` document (``<BucketName>``, ``<Key>``, ``<RangeRequested>``...), in the order the
handler passes them; the modeled exceptions (``NoSuchBucket``, ``NoSuchKey``...) have no
members, so these are all extras.

``NotModified`` (304) is not an error in S3's sense: a GET or HEAD whose ``If-None-Match`` or
``If-Modified-Since`` holds answers 304 with no body. It is raised like an error because it
replaces the whole response; the protocol layer renders any 304 without a body.

Multipart uploads: codes and statuses are the API reference's (CompleteMultipartUpload's
"special errors", the error table of "Error responses"); the messages are worded as S3 sends them
on the wire, which for InvalidPart, InvalidPartOrder and EntityTooSmall differs from the
reference's table (the wire's are quoted in SDK bug reports and by emulators that replay captured
responses), and carry the same extra elements (``UploadId``, ``PartNumber``, the unquoted
``ETag``...).
"""

from __future__ import annotations

from podwarden.model.errors import InvalidToken
from podwarden.wire.error_table import Code, Family

MEMBERS = frozenset(
    {
        "BucketName",
        "Key",
        "LocationConstraint",
        "RangeRequested",
        "ActualObjectSize",
        "PartNumberRequested",
        "ActualPartCount",
        "Condition",
        "ArgumentName",
        "ArgumentValue",
        "Size",
        "MaxSizeAllowed",
        "MinSizeAllowed",
        "ProposedSize",
        "ExpectedDigest",
        "CalculatedDigest",
        "UploadId",
        "PartNumber",
        "ETag",
    }
)

S3 = Family(
    {
        # ---- buckets and keys
        "no-such-bucket": Code("NoSuchBucket", 404, "The specified bucket does not exist"),
        "no-such-key": Code("NoSuchKey", 404, "The specified key does not exist."),
        "bucket-not-empty": Code(
            "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"
        ),
        "bucket-owned-by-you": Code(
            "BucketAlreadyOwnedByYou",
            409,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        "bucket-exists": Code(
            "BucketAlreadyExists",
            409,
            "The requested bucket name is not available. The bucket namespace is shared by all "
            "users of the system. Please select a different name and try again.",
        ),
        "invalid-bucket-name": Code("InvalidBucketName", 400, "The specified bucket is not valid."),
        "invalid-location-constraint": Code(
            "InvalidLocationConstraint", 400, "The specified location-constraint is not valid"
        ),
        # the constraint names another region than the regional endpoint the request was sent
        # to ("unspecified" when it is absent)
        "illegal-location-constraint": Code(
            "IllegalLocationConstraintException",
            400,
            "The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        ),
        "access-denied": Code("AccessDenied", 403, "Access Denied"),
        "key-too-long": Code("KeyTooLongError", 400, "Your key is too long"),
        # ---- reads and writes
        "invalid-range": Code("InvalidRange", 416, "The requested range is not satisfiable"),
        # a GetObject/HeadObject ``partNumber`` past the object's last part (S3's 416; the extra
        # elements are those S3 sends, ``PartNumberRequested`` and ``ActualPartCount``)
        "invalid-part-number": Code(
            "InvalidPartNumber", 416, "The requested partnumber is not satisfiable"
        ),
        "precondition-failed": Code(
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        ),
        "not-modified": Code("NotModified", 304, "Not Modified"),
        "bad-digest": Code(
            "BadDigest", 400, "The Content-MD5 you specified did not match what we received."
        ),
        "invalid-digest": Code("InvalidDigest", 400, "The Content-MD5 you specified was invalid."),
        "malformed-xml": Code(
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our published "
            "schema",
        ),
        # the message is the handler's: it says which argument and why
        "invalid-argument": Code("InvalidArgument", 400),
        "invalid-request": Code("InvalidRequest", 400),
        # ---- multipart uploads
        "no-such-upload": Code(
            "NoSuchUpload",
            404,
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
        ),
        "invalid-part": Code(
            "InvalidPart",
            400,
            "One or more of the specified parts could not be found.  The part may not have been "
            "uploaded, or the specified entity tag may not match the part's entity tag.",
        ),
        "invalid-part-order": Code(
            "InvalidPartOrder",
            400,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ),
        "entity-too-small": Code(
            "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size"
        ),
        "entity-too-large": Code(
            "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"
        ),
        # a ContinuationToken podwarden did not issue for this listing (podwarden.control.
        # pagination), as S3 answers it
        InvalidToken: Code("InvalidArgument", 400, "The continuation token provided is incorrect"),
    },
    members=MEMBERS,
)
