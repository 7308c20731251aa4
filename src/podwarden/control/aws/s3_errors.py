"""S3's own error codes, statuses and messages, worded as Amazon S3 words them.

The messages are S3's (as its error responses and the SDKs' reports show them), so scripts that
match on them behave as against AWS. ``fields`` become the extra elements S3 puts in its
``<Error>`` document (``<BucketName>``, ``<Key>``, ``<RangeRequested>``...); the modeled
exceptions (``NoSuchBucket``, ``NoSuchKey``...) have no members, so these are all extras.

``NotModified`` (304) is not an error in S3's sense: a GET or HEAD whose ``If-None-Match`` or
``If-Modified-Since`` holds answers 304 with no body. It is raised like an error because it
replaces the whole response; the protocol layer renders any 304 without a body.
"""

from __future__ import annotations

from podwarden.model.errors import ServiceError

MAX_KEY_BYTES = 1024


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError(
        "NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket
    )


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def bucket_not_empty(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=bucket
    )


def already_owned_by_you(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        BucketName=bucket,
    )


def already_exists(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users "
        "of the system. Please select a different name and try again.",
        409,
        BucketName=bucket,
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError(
        "InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket
    )


def invalid_location_constraint(constraint: str) -> ServiceError:
    return ServiceError(
        "InvalidLocationConstraint",
        "The specified location-constraint is not valid",
        400,
        LocationConstraint=constraint,
    )


def illegal_location_constraint(constraint: str | None) -> ServiceError:
    """The constraint names another region than the regional endpoint the request was sent to
    ("unspecified" when it is absent), worded as S3 words it."""
    named = constraint or "unspecified"
    return ServiceError(
        "IllegalLocationConstraintException",
        f"The {named} location constraint is incompatible for the region specific endpoint "
        "this request was sent to.",
        400,
    )


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def invalid_range(requested: str, size: int) -> ServiceError:
    return ServiceError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        RangeRequested=requested,
        ActualObjectSize=size,
    )


def invalid_part_number(requested: int, count: int) -> ServiceError:
    """A GetObject/HeadObject ``partNumber`` past the object's last part (S3's 416; the extra
    elements are those S3 sends, ``PartNumberRequested`` and ``ActualPartCount``)."""
    return ServiceError(
        "InvalidPartNumber",
        "The requested partnumber is not satisfiable",
        416,
        PartNumberRequested=requested,
        ActualPartCount=count,
    )


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        Condition=condition,
    )


def not_modified() -> ServiceError:
    return ServiceError("NotModified", "Not Modified", 304)


def invalid_argument(message: str, name: str, value: str) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)


def key_too_long(size: int) -> ServiceError:
    return ServiceError(
        "KeyTooLongError", "Your key is too long", 400, Size=size, MaxSizeAllowed=MAX_KEY_BYTES
    )


def bad_digest(expected: str, calculated: str) -> ServiceError:
    return ServiceError(
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        400,
        ExpectedDigest=expected,
        CalculatedDigest=calculated,
    )


def invalid_digest() -> ServiceError:
    return ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)


def malformed_xml() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


# ---- multipart uploads ----------------------------------------------------------------------
# Codes and statuses are the API reference's (CompleteMultipartUpload's "special errors", the
# error table of "Error responses"); the messages are worded as S3 sends them on the wire, which
# for InvalidPart, InvalidPartOrder and EntityTooSmall differs from the reference's table (the
# wire's are quoted in SDK bug reports and by emulators that replay captured responses), and
# carry the same extra elements (``UploadId``, ``PartNumber``, the unquoted ``ETag``...).


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
        404,
        UploadId=upload_id,
    )


def invalid_part(upload_id: str, part_number: int, etag: str) -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
        UploadId=upload_id,
        PartNumber=part_number,
        ETag=etag.strip('"'),
    )


def invalid_part_order(upload_id: str) -> ServiceError:
    return ServiceError(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
        400,
        UploadId=upload_id,
    )


def entity_too_small(size: int, minimum: int, part_number: int, etag: str) -> ServiceError:
    return ServiceError(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        400,
        ProposedSize=size,
        MinSizeAllowed=minimum,
        PartNumber=part_number,
        ETag=etag.strip('"'),
    )


def entity_too_large(size: int, maximum: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        400,
        ProposedSize=size,
        MaxSizeAllowed=maximum,
    )
