"""EKS's error codes: what each domain error raised by ``podwarden.control.eks`` becomes on
the wire (see ``podwarden.wire.error_table``).

EKS models its exceptions in botocore's ``eks`` service model: ResourceNotFoundException
(404), ResourceInUseException (409), InvalidParameterException and InvalidRequestException
(400), each with the members ``clusterName``, ``addonName``... (:data:`MEMBERS`); the tag
operations declare only BadRequestException (400) and NotFoundException (404), with no members
but ``message``. A plain ``Invalid`` stays AWS's common ValidationException (what the request
validator answers).

Where the messages come from: EKS's own wording where it is on record, cited in the handler
modules' docstrings: "No cluster found for name: <name>." and "Cluster already exists with
name: <name>" (moto's recordings, hashicorp/terraform#30808), "Cluster '<name>' is not in
ACTIVE status" (moto's recording), "Cannot delete because cluster <name> currently has an
update in progress" (aws/containers-roadmap#1511), the update and authentication-mode messages
(``control.eks.updates``), the add-on messages (terraform-provider-aws#20559,
aws/containers-roadmap#1429, the EKS guide), the access entry messages (terraform-provider-aws
users' reports), the Pod Identity messages (aws-samples/eks-workshop-v2#882, aws/eks-hybrid#679,
terraform-provider-aws#34717 and #41483), the subnet messages (pulumi/pulumi-eks#311, and EC2's
InvalidSubnetID.NotFound as EKS quotes it), "Resource was not found" (moto's, for an unknown
ARN in the tag operations). The others are podwarden's wording of AWS's rules, marked below.
Entries without a template carry the handler's own message.
"""

from __future__ import annotations

from podwarden.model.errors import InUse, InvalidToken, NotFound
from podwarden.wire.error_table import Code, Family

# the members EKS's exception shapes have besides ``message`` (botocore's ``eks`` model)
MEMBERS = frozenset(
    {"clusterName", "nodegroupName", "fargateProfileName", "addonName", "subscriptionId"}
)


def _not_found(message: str | None = None) -> Code:
    return Code("ResourceNotFoundException", 404, message)


def _in_use(message: str | None = None) -> Code:
    return Code("ResourceInUseException", 409, message)


def _parameter(message: str | None = None) -> Code:
    return Code("InvalidParameterException", 400, message)


def _request(message: str | None = None) -> Code:
    return Code("InvalidRequestException", 400, message)


def _bad_request(message: str) -> Code:
    """The tag operations' 400 (their only other exception is NotFoundException)."""
    return Code("BadRequestException", 400, message)


EKS = Family(
    {
        NotFound: _not_found(),
        InUse: _in_use(),
        # our message: EKS's wording for a bad token is not on record
        InvalidToken: _parameter("The nextToken provided is not valid."),
        # ---- clusters
        "cluster-not-found": _not_found("No cluster found for name: {clusterName}."),
        "cluster-exists": _in_use("Cluster already exists with name: {clusterName}"),
        "cluster-not-active": _request("Cluster '{clusterName}' is not in ACTIVE status"),
        "cluster-updating": _in_use(
            "Cannot delete because cluster {clusterName} currently has an update in progress"
        ),
        "deletion-protection": _request(  # podwarden's wording
            "Cluster {clusterName} has deletion protection enabled: disable it with "
            "UpdateClusterConfig before deleting the cluster."
        ),
        "invalid-role-arn": _parameter("Invalid Role Arn: '{roleArn}'"),
        "outposts": _parameter("podwarden does not run EKS clusters on Outposts."),
        "config-map-needs-creator-admin": _parameter(
            "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication "
            "mode is set to CONFIG_MAP"
        ),
        # ---- versions
        "unsupported-version": _parameter("unsupported Kubernetes version {version}"),
        "version-not-runnable": _parameter(  # podwarden's
            "Kubernetes {version} is an EKS version podwarden cannot run: its local control "
            "plane runs {runnable}."
        ),
        # ---- networking
        "subnets-in-one-az": _parameter("Subnets specified must be in at least two different AZs"),
        "subnet-not-found": _parameter(
            "The subnet ID '{subnetId}' does not exist (Service: AmazonEC2; Status Code: 400;"
            " Error Code: InvalidSubnetID.NotFound)"
        ),
        # AWS's wording is not on record; the rule is its (all subnets in one VPC).
        "subnets-in-many-vpcs": _parameter("Subnets must all belong to the same VPC."),
        "service-cidr-with-ipv6": _parameter(  # podwarden's wording, below too
            "serviceIpv4Cidr can't be specified when ipFamily is ipv6."
        ),
        "invalid-service-cidr": _parameter("Invalid serviceIpv4Cidr: {cidr}"),
        "service-cidr-out-of-range": _parameter(
            "serviceIpv4Cidr {cidr} must be within 10.0.0.0/8, 172.16.0.0/12 or "
            "192.168.0.0/16 and between /24 and /12."
        ),
        # ---- updates
        "update-in-progress": _in_use(
            "Cannot {updateType} because cluster {clusterName} currently has update "
            "{updateId} in progress"
        ),
        "update-not-found": _not_found("No update found for ID: {updateId}."),
        "one-update-type": _parameter("Only one type of update can be allowed."),
        "no-changes": _parameter(),
        "update-not-supported": _parameter("podwarden does not support updating {member}."),
        "auth-mode-update": _parameter(
            "Unsupported authentication mode update from {old} to {new}"
        ),
        "version-update": _parameter(
            "Unsupported Kubernetes minor version update from {current} to {target}"
        ),
        # ---- add-ons
        "addon-not-found": _not_found("No addon: {addonName} found in cluster: {clusterName}"),
        "addon-exists": _in_use("Addon already exists."),
        "addon-not-supported": _parameter("Addon specified is not supported"),
        "addon-version-not-supported": _parameter("Addon version specified is not supported"),
        "invalid-configuration": _parameter("configurationValues must be a JSON or YAML object."),
        "addon-deleting": _request("Addon {addonName} is in {status} state."),
        "addon-busy": _in_use("Cannot AddonUpdate because addon {addonName} currently {doing}."),
        "service-account-repeated": _parameter(  # podwarden's wording
            "podIdentityAssociations names a service account more than once."
        ),
        # ---- access entries and policies
        "not-api-mode": _request(
            "The cluster's authentication mode must be set to one of "
            "[API, API_AND_CONFIG_MAP] to perform this operation."
        ),
        "access-entry-exists": _in_use(
            "The specified access entry resource is already in use on this cluster."
        ),
        "access-entry-not-found": _not_found(
            "The specified principalArn could not be found. "
            "You can view your available access entries with 'list-access-entries'."
        ),
        # podwarden's wording of AWS's rules from here to the end of the section
        "invalid-principal": _parameter(
            "The principalArn {principalArn} is not a valid IAM user or role ARN "
            "(STS session principals are not supported)."
        ),
        "invalid-entry-type": _parameter(
            "The type {type} is not valid. Valid values are [{valid}]"
        ),
        "entry-needs-role": _parameter(
            "Access entries of type {type} need an IAM role of account {account}; "
            "{principalArn} is not one."
        ),
        "entry-not-custom": _parameter(
            "kubernetesGroups and username can't be set on an access entry of type {type}."
        ),
        # the username rules are the EKS guide's ("Set a custom username for EKS access entries")
        "reserved-username": _parameter(
            "The username {username} is not valid: a username can't start with {prefix}"
        ),
        "invalid-policy": _parameter("The policyArn {policyArn} is not valid."),
        "policy-not-for-type": _parameter(
            "The access policy {policy} can't be associated with an access entry of type {type}."
        ),
        "policy-not-associated": _not_found(
            "The policyArn {policyArn} is not associated with the access entry."
        ),
        "namespaces-required": _parameter(
            "namespaces must be set when the access scope type is namespace."
        ),
        "namespaces-not-allowed": _parameter(
            "namespaces can't be set when the access scope type is cluster."
        ),
        "invalid-access-scope": _parameter("accessScope.type must be cluster or namespace."),
        # ---- Pod Identity associations
        "association-exists": _in_use("Association already exists: {associationId}"),
        "association-not-found": _not_found(  # podwarden's wording
            "No Pod Identity Association found with id {associationId} in cluster {clusterName}."
        ),
        "invalid-association-id": _parameter(
            "The parameter associationId should be {length} characters long."
        ),
        "role-not-found": _parameter("Role provided in the request does not exist"),
        "role-not-trusted": _parameter(
            "Trust policy of the role provided is invalid. Follow the official documentation "
            "to resolve the issue."
        ),
        "association-owned": _request(  # podwarden's wording, below too
            "Cannot {doing} Pod Identity Association {associationId}: it is owned by the "
            "add-on {owner}; change it with UpdateAddon or DeleteAddon."
        ),
        "nothing-to-update": _parameter(
            "Specify at least one of roleArn, targetRoleArn, disableSessionTags or policy."
        ),
        # ---- tags (podwarden's wording; the rules are the EKS guide's, ``control.eks.tags``)
        "invalid-resource-arn": _bad_request(
            "{resourceArn} is not the ARN of an Amazon EKS resource that supports tags."
        ),
        "tagged-resource-not-found": Code(
            "NotFoundException", 404, "Resource was not found: {resourceArn}"
        ),
        "reserved-tag-prefix": _bad_request(
            "Tag keys and values beginning with aws: are reserved for AWS use: {tag}"
        ),
        "too-many-tags": _bad_request(
            "A resource can have at most {limit} tags; {resourceArn} would have {count}."
        ),
    },
    members=MEMBERS,
)
