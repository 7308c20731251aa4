"""Which bucket names and keys S3 accepts, and which region a CreateBucket puts the bucket in.

All are pure functions of the request, checked before anything is read from the store, in the
order S3 checks them: the name first (``InvalidBucketName``), then the location constraint
against the endpoint's region, then whether the name is taken.
"""

from __future__ import annotations

import ipaddress
import re

from podwarden.model.errors import Invalid

# General purpose bucket naming rules (Amazon S3 User Guide, "General purpose bucket naming
# rules"): 3-63 characters of lowercase letters, digits, dots and hyphens, beginning and ending
# with a letter or digit, no two adjacent dots, not an IP address, and none of the prefixes and
# suffixes S3 reserves for its own names (access point aliases, Object Lambda, Multi-Region
# Access Points, directory and table buckets).
_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024  # an object key's longest, in UTF-8 bytes

US_EAST_1 = "us-east-1"
# Values of CreateBucketConfiguration.LocationConstraint that are not region names.
LEGACY_CONSTRAINTS = {"EU": "eu-west-1"}


def bucket_name_problem(name: str) -> str | None:
    """Which rule ``name`` breaks, or None for a valid general purpose bucket name. The reason is
    for logs and tests; S3 itself answers every one with the same InvalidBucketName."""
    if not _CHARS.match(name):
        return (
            "must be 3-63 lowercase letters, digits, dots or hyphens, beginning and ending "
            "with a letter or digit"
        )
    if ".." in name:
        return "must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address"
    if name.startswith(RESERVED_PREFIXES):
        return f"must not start with {', '.join(RESERVED_PREFIXES)}"
    if name.endswith(RESERVED_SUFFIXES):
        return f"must not end with {', '.join(RESERVED_SUFFIXES)}"
    return None


def check_bucket_name(name: str) -> None:
    if bucket_name_problem(name) is not None:
        raise Invalid(reason="invalid-bucket-name", BucketName=name)


def key_too_long(key: str) -> Invalid | None:
    """KeyTooLongError for a key of more than 1024 UTF-8 bytes, None for one S3 accepts."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if size <= MAX_KEY_BYTES:
        return None
    return Invalid(reason="key-too-long", Size=size, MaxSizeAllowed=MAX_KEY_BYTES)


def check_key(key: str) -> None:
    problem = key_too_long(key)
    if problem is not None:
        raise problem


def _illegal(constraint: str | None) -> Invalid:
    return Invalid(reason="illegal-location-constraint", constraint=constraint or "unspecified")


def bucket_region(endpoint_region: str, constraint: str | None, known: frozenset[str]) -> str:
    """The region a bucket created through ``endpoint_region`` with ``constraint`` lives in.

    S3's rules, as its endpoints answer:

    * no constraint: only us-east-1 (the legacy global endpoint) accepts it and puts the bucket
      there; every other regional endpoint refuses with IllegalLocationConstraintException
      ("The unspecified location constraint is incompatible...");
    * ``us-east-1`` itself is not a valid constraint (it is absent from the model's
      BucketLocationConstraint enum): on us-east-1's endpoint InvalidLocationConstraint, "The
      specified location-constraint is not valid" (as S3 answers ``aws s3api create-bucket
      --region us-east-1 --create-bucket-configuration LocationConstraint=us-east-1``); on
      another region's endpoint it names another region than the endpoint's, so
      IllegalLocationConstraintException, "The us-east-1 location constraint is incompatible
      for the region specific endpoint this request was sent to." (the wording S3 gives every
      other region's constraint there; reported for this one in podwarden's issue #17).
      Buckets are created in us-east-1 by omitting the constraint;
    * an unknown constraint (not in ``known``, the model's enum, nor the endpoint's own region,
      so a podwarden region outside the enum still works): InvalidLocationConstraint;
    * a constraint naming another region than the endpoint's: IllegalLocationConstraintException
      ("The eu-west-1 location constraint is incompatible..."), except on us-east-1, whose
      global endpoint creates buckets in any region;
    * ``EU`` is the legacy name of eu-west-1.
    """
    if not constraint:
        if endpoint_region != US_EAST_1:
            raise _illegal(None)
        return US_EAST_1
    if constraint == US_EAST_1 and endpoint_region != US_EAST_1:
        raise _illegal(constraint)
    if constraint == US_EAST_1 or (constraint not in known and constraint != endpoint_region):
        raise Invalid(reason="invalid-location-constraint", LocationConstraint=constraint)
    region = LEGACY_CONSTRAINTS.get(constraint, constraint)
    if endpoint_region not in (US_EAST_1, region):
        raise _illegal(constraint)
    return region


def location(bucket: str, region: str) -> str:
    """CreateBucket's ``Location``: the bucket's path for us-east-1 buckets, its virtual-hosted
    URL elsewhere, as S3 returns them."""
    if region == US_EAST_1:
        return f"/{bucket}"
    return f"http://{bucket}.s3.amazonaws.com/"
