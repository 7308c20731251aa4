"""What the HyperPod cluster reconciler asks of the local account: may an instance group's
ExecutionRole read its lifecycle scripts? Read from the account's IAM and S3 at launch, as
HyperPod finds out when its instances fetch the scripts.

The decision is ``logic.lifecycle_access``'s (IAM's evaluation of the role's managed and inline
policies and permissions boundary); this module reads them from the store. A role that cannot
read the scripts fails provisioning with the message HyperPod gives for it (quoted in
``control.lifecycle_scripts``, from
https://dev.classmethod.jp/articles/sagemaker-hyperpod-execution-role-s3-bucket-permissions)::

    Execution role provided does not have permissions to access the bucket <SourceS3Uri>.
    Please ensure that the role has minimum permissions to read the bucket (s3:ListBucket,
    s3:GetObject).

framed like every provisioning failure ("Instance i-... failed to provision with the following
error: ..."). A missing bucket is not a permissions matter (S3 answers NoSuchBucket to anyone):
``lifecycle_scripts.lifecycle_script`` reports it. A role that does not exist has no permissions.
"""

from __future__ import annotations

from podwarden.control.iam.managed import default_document, policy_in
from podwarden.control.iam.records import key
from podwarden.control.lifecycle_scripts import LifecycleScriptsFailed, parse_s3_uri, script_key
from podwarden.control.s3 import records
from podwarden.logic.iam_evaluation import Policy
from podwarden.logic.lifecycle_access import ExecutionRole, Scripts, denied_read
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import account_wide
from podwarden.store.sql import Store


class ExecutionRoleCannotRead(LifecycleScriptsFailed):
    """HyperPod's reason when the execution role may not read the lifecycle scripts; ``detail``
    names the request IAM refuses and why."""

    def __init__(self, detail: str, uri: str, source_s3_uri: str) -> None:
        super().__init__(detail, uri)
        self.message = (
            f"Execution role provided does not have permissions to access the bucket "
            f"{source_s3_uri}. Please ensure that the role has minimum permissions to read the "
            "bucket (s3:ListBucket, s3:GetObject)."
        )
        self.args = (self.message,)


def execution_role(store: Store, arn: str) -> ExecutionRole | None:
    """The role an ARN names, with its policies' documents; None if it does not exist."""
    role = arns.parse_role(arn)
    if role is None:
        return None
    rec = store.resources.get(kinds.IAM_ROLE, account_wide(role.account), key(role.name))
    if rec is None or rec.doc["Arn"] != arn:
        return None
    account, doc = role.account, rec.doc
    policies = [Policy.parse(f"inline policy {n}", t) for n, t in sorted(doc["Inline"].items())]
    for policy_arn in doc["Attached"]:
        managed = policy_in(store, account, policy_arn)
        if managed is not None:
            policies.append(Policy.parse(policy_arn, default_document(managed)))
    boundary = None
    if doc.get("PermissionsBoundary"):
        found = policy_in(store, account, doc["PermissionsBoundary"])
        # a boundary policy that no longer exists allows nothing, as in IAM
        text = default_document(found) if found else '{"Statement": []}'
        boundary = Policy.parse(doc["PermissionsBoundary"], text)
    return ExecutionRole(
        arn=arn,
        account=account,
        role_id=doc["RoleId"],
        tags={t["Key"]: t["Value"] for t in doc.get("Tags", [])},
        policies=tuple(policies),
        boundary=boundary,
    )


def check_read_access(
    store: Store, role_arn: str, source_s3_uri: str, on_create: str, now: float
) -> None:
    """:class:`ExecutionRoleCannotRead` unless the role may list the scripts' folder and read
    the OnCreate script (nothing to check while the bucket does not exist)."""
    bucket_name, prefix = parse_s3_uri(source_s3_uri)
    bucket = records.get_bucket(store.resources, bucket_name)
    if bucket is None:
        return
    object_key = script_key(prefix, on_create)
    uri = f"s3://{bucket_name}/{object_key}"
    role = execution_role(store, role_arn)
    if role is None:
        raise ExecutionRoleCannotRead(
            f"The execution role {role_arn} does not exist.", uri, source_s3_uri
        )
    scripts = Scripts(bucket_name, bucket.doc["Owner"], bucket.doc["Region"], prefix, object_key)
    denied = denied_read(role, scripts, now)
    if denied is not None:
        request, decision = denied
        raise ExecutionRoleCannotRead(
            f"{role_arn} is not authorized to perform {request.action} on {request.resource}: "
            f"{decision.reason()}.",
            uri,
            source_s3_uri,
        )
