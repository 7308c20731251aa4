"""What the HyperPod cluster reconciler asks of the local account's S3: an instance group's
lifecycle script. HyperPod finds it at ``LifeCycleConfig.SourceS3Uri`` (a folder in S3) and
``OnCreate`` (the entrypoint's file name under it), read here from ``podwarden.control.s3``'s
records. It lives beside the S3 package, not in it: its reader is the reconciler
(``podwarden.operator``), not an S3 client.

A missing entrypoint fails provisioning the way HyperPod reports it. AWS's FailureMessage for an
instance whose lifecycle scripts could not run, as users have quoted it (awslabs/
awsome-distributed-ai issue #188, "FailureMessage: Instance i-XXX failed to provision with the
following error: Lifecycle scripts did not run successfully", March 2024)::

    Instance i-XXX failed to provision with the following error: "Lifecycle scripts did not run
    successfully. Ensure the scripts exist in provided S3 path, are accessible, and run without
    errors. Please see CloudWatch logs for lifecycle script execution details." Note that
    multiple instances may be impacted.

The same frame carries other causes, e.g. for an unreadable bucket (quoted at
https://dev.classmethod.jp/articles/sagemaker-hyperpod-execution-role-s3-bucket-permissions):
'Instance i-... failed to provision with the following error: "Execution role provided does not
have permissions to access the bucket s3://.../config/. Please ensure that the role has minimum
permissions to read the bucket (s3:ListBucket, s3:GetObject)." Note that multiple instances may
be impacted.'

AWS's reason does not name the missing script (it points to CloudWatch, which podwarden does not
have); :class:`LifecycleScriptsFailed` carries AWS's sentence as its ``message`` and podwarden's
specifics (which URI, which of bucket or key is missing) as ``detail``, for the provisioning
hook to log or record. A missing bucket gets the same reason as a missing key: both are "the
scripts [do not] exist in provided S3 path". An existing bucket the execution role's policies do
not let it read (``s3:ListBucket`` on the bucket, ``s3:GetObject`` on the script, evaluated by
``logic.lifecycle_access`` as IAM does) gets the permissions message above.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from podwarden.control.s3 import records
from podwarden.model.errors import Invalid, TerminalError
from podwarden.store.sql import Store

LIFECYCLE_SCRIPTS_FAILED = (
    "Lifecycle scripts did not run successfully. Ensure the scripts exist in provided S3 path, "
    "are accessible, and run without errors. Please see CloudWatch logs for lifecycle script "
    "execution details."
)

# SourceS3Uri's pattern in the SageMaker model.
_URI = re.compile(r"^(https|s3)://([^/]+)/?(.*)$", re.DOTALL)
# https hosts of S3: virtual-hosted (bucket.s3.amazonaws.com, bucket.s3.us-west-2.amazonaws.com,
# bucket.s3-us-west-2.amazonaws.com, .amazonaws.com.cn) and path-style (s3.amazonaws.com/bucket,
# s3.us-west-2.amazonaws.com/bucket, s3.dualstack.us-west-2.amazonaws.com/bucket).
_PATH_HOST = re.compile(r"^s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
_VIRTUAL_HOST = re.compile(r"^(.+?)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")


class LifecycleScriptsFailed(TerminalError, Invalid):
    """An instance's lifecycle scripts cannot run. ``message`` is HyperPod's reason, verbatim;
    ``detail`` says what podwarden found missing; :meth:`failure_message` frames the reason as
    the FailureMessage of an instance.

    It is a TerminalError (the reconciler records the failure and stops: retrying cannot make
    the script appear; the user uploads it and updates the cluster, as with AWS) and an Invalid
    (the cluster's configuration points at nothing), so callers catching either handle it.
    """

    def __init__(self, detail: str, uri: str) -> None:
        super().__init__(LIFECYCLE_SCRIPTS_FAILED)
        self.detail = detail
        self.uri = uri

    def failure_message(self, instance_id: str) -> str:
        return (
            f"Instance {instance_id} failed to provision with the following error: "
            f'"{self.message}" Note that multiple instances may be impacted.'
        )


@dataclass(frozen=True)
class LifecycleScript:
    """An entrypoint script as found in S3: where, what, and its ETag (to tell versions apart)."""

    bucket: str
    key: str
    content: bytes
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def text(self) -> str:
        """The content as text, for JSON records (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of an S3 location in the forms SourceS3Uri's pattern
    ``(https|s3)://([^/]+)/?(.*)`` admits: ``s3://bucket/prefix`` (taken literally, as the AWS
    CLI does) and S3's https URLs, virtual-hosted (``https://bucket.s3.amazonaws.com/prefix``,
    with or without a region) or path-style (``https://s3.us-west-2.amazonaws.com/bucket/prefix``),
    whose paths are percent-decoded. Invalid for anything else.
    """
    m = _URI.match(uri)
    if m is None:
        raise Invalid(f"{uri} is not an S3 URI (s3://bucket/prefix or https://...amazonaws.com).")
    scheme, host, rest = m.groups()
    if scheme == "s3":
        return host, rest
    path = urllib.parse.unquote(rest.split("?", 1)[0])
    if _PATH_HOST.match(host):
        bucket, _, prefix = path.partition("/")
        if bucket:
            return bucket, prefix
    elif (v := _VIRTUAL_HOST.match(host)) is not None:
        return v.group(1), path
    raise Invalid(f"{uri} is not an S3 URL: the host names no bucket of Amazon S3.")


def script_key(prefix: str, on_create: str) -> str:
    """The key of ``on_create`` under the folder ``prefix``: SourceS3Uri is a folder whether or
    not it ends with ``/`` (HyperPod downloads everything under it and runs the entrypoint from
    there), and OnCreate a path relative to it (a leading ``./`` or ``/`` is dropped)."""
    name = on_create.removeprefix("./").lstrip("/")
    folder = prefix.rstrip("/")
    return f"{folder}/{name}" if folder else name


def lifecycle_script(store: Store, source_s3_uri: str, on_create: str) -> LifecycleScript:
    """The OnCreate script of an instance group, read from this account's S3;
    :class:`LifecycleScriptsFailed` if its bucket or key does not exist."""
    bucket, prefix = parse_s3_uri(source_s3_uri)
    key = script_key(prefix, on_create)
    uri = f"s3://{bucket}/{key}"
    resources = store.resources
    if records.get_bucket(resources, bucket) is None:
        raise LifecycleScriptsFailed(
            f"The lifecycle scripts' bucket {bucket} of {source_s3_uri} does not exist "
            "(NoSuchBucket).",
            uri,
        )
    obj = records.get_object(resources, bucket, key)
    if obj is None:
        raise LifecycleScriptsFailed(
            f"The on-create script {uri} was not found under {source_s3_uri} (NoSuchKey).", uri
        )
    return LifecycleScript(bucket, key, records.body(resources, obj), obj.etag)
