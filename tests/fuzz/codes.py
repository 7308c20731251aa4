"""The error codes a fuzzed request may be answered with, as data.

A code is acceptable for an operation when the operation's botocore model lists it (the modeled
exceptions, by their wire code), when the service's family documents it for every operation
("Common Errors" of the SageMaker, EKS, IAM and STS API references, EC2's "Error codes for the
Amazon EC2 API", S3's "List of error codes"), or when podwarden documents it below. A code outside
these is a finding: a client's generated exception classes cannot match it.
"""

from __future__ import annotations

from collections.abc import Mapping

# The errors every AWS API documents ("Common Errors"), by protocol family; the signature and
# framing errors each family's front end answers are part of them.
_COMMON = frozenset(
    {
        "AccessDeniedException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "RequestExpired",
        "ServiceUnavailable",
        "ThrottlingException",
        "ValidationError",
    }
)

_JSON = _COMMON | {
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "RequestEntityTooLargeException",
}

_QUERY = _COMMON | {
    "AccessDenied",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "Throttling",
    "RequestEntityTooLarge",
}

# EC2's model declares no error shapes: its codes are the documented list (the ones the served
# operations can meet).
_EC2 = _COMMON | {
    "AuthFailure",
    "Blocked",
    "CannotDelete",
    "DependencyViolation",
    "DryRunOperation",
    "FilterLimitExceeded",
    "Gateway.NotAttached",
    "IdempotentParameterMismatch",
    "InvalidAddress.NotFound",
    "InvalidAllocationID.Malformed",
    "InvalidAllocationID.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidCharacter",
    "InvalidCarrierGatewayID.NotFound",
    "InvalidEgressOnlyInternetGatewayId.Malformed",
    "InvalidEgressOnlyInternetGatewayId.NotFound",
    "InvalidFilter",
    "InvalidGatewayID.NotFound",
    "InvalidGroup.Duplicate",
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
    "InvalidID",
    "InvalidInstanceID.NotFound",
    "InvalidInternetGatewayID.Malformed",
    "InvalidInternetGatewayID.NotFound",
    "InvalidIPAddress.InUse",
    "InvalidLocalGatewayID.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidPaginationToken",
    "InvalidParameter",
    "InvalidPermission.Duplicate",
    "InvalidPermission.Malformed",
    "InvalidPermission.NotFound",
    "InvalidPrefixListID.NotFound",
    "InvalidPrefixListId.NotFound",
    "InvalidRequest",
    "InvalidRoute.NotFound",
    "InvalidRouteTableID.Malformed",
    "InvalidRouteTableID.NotFound",
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidSubnet.Conflict",
    "InvalidSubnet.Range",
    "InvalidSubnetID.Malformed",
    "InvalidSubnetID.NotFound",
    "InvalidTransitGatewayID.NotFound",
    "InvalidVpc.Range",
    "InvalidVpcEndpointId.NotFound",
    "InvalidVpcID.Malformed",
    "InvalidVpcID.NotFound",
    "InvalidVpcPeeringConnectionID.NotFound",
    "InvalidVpnGatewayID.NotFound",
    "InvalidZone.NotFound",
    "NatGatewayMalformed",
    "NatGatewayNotFound",
    "RequestLimitExceeded",
    "Resource.AlreadyAssociated",
    "RouteAlreadyExists",
    "SignatureDoesNotMatch",
    "UnauthorizedOperation",
    "UnknownParameter",
    "UnsupportedOperation",
    "UnsupportedProtocol",
    "VPCIdNotSpecified",
}

# S3's "List of error codes" (the ones a served operation can meet).
_S3 = frozenset(
    {
        "AccessDenied",
        "AuthorizationHeaderMalformed",
        "AuthorizationQueryParametersError",
        "BadDigest",
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
        "BucketNotEmpty",
        "EntityTooLarge",
        "EntityTooSmall",
        "ExpiredToken",
        "IllegalLocationConstraintException",
        "IncompleteBody",
        "InternalError",
        "InvalidAccessKeyId",
        "InvalidArgument",
        "InvalidBucketName",
        "InvalidDigest",
        "InvalidLocationConstraint",
        "InvalidPart",
        "InvalidPartNumber",
        "InvalidPartOrder",
        "InvalidRange",
        "InvalidRequest",
        "InvalidToken",
        "InvalidURI",
        "KeyTooLongError",
        "MalformedXML",
        "MaxMessageLengthExceeded",
        "MetadataTooLarge",
        "MethodNotAllowed",
        "MissingContentLength",
        "MissingRequestBodyError",
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchUpload",
        "NotImplemented",
        "PreconditionFailed",
        "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
        "XAmzContentSHA256Mismatch",
    }
)

# Codes podwarden documents beyond the lists above (none yet: a code added here needs a line in
# the service's docs saying when podwarden answers it).
PODWARDEN: Mapping[str, frozenset[str]] = {}

COMMON: Mapping[str, frozenset[str]] = {
    "sagemaker": _JSON,
    "eks": _JSON,
    "eks-auth": _JSON,  # EKS Auth documents no common errors of its own: AWS's, as EKS
    "iam": _QUERY,
    "sts": _QUERY,
    "ec2": _EC2,
    "s3": _S3,
    # CloudWatch (Smithy RPC v2 CBOR, awsJson, Query) keeps its Query codes; a request framed
    # wrong before any code applies is the JSON families' (SerializationException...)
    "cloudwatch": _JSON | _QUERY,
}

# A HEAD has no body: botocore names the error by its HTTP status.
HEAD_STATUS_CODES = frozenset({"304", "400", "403", "404", "405", "412", "416"})

# 5xx answers that AWS documents as non-retryable refusals rather than failures of the server:
# S3's NotImplemented (501) for an operation the endpoint does not serve.
ALLOWED_5XX: frozenset[tuple[str, str, int]] = frozenset({("s3", "NotImplemented", 501)})
