"""EKS Auth's error codes (``eks-auth``, rest-json): what each domain error raised by
``podwarden.control.eks_auth`` becomes on the wire (see ``podwarden.wire.error_table``).

botocore's ``eks-auth`` model gives AssumeRoleForPodIdentity these exceptions, each with only a
``message``: InvalidTokenException, ExpiredTokenException, InvalidParameterException,
InvalidRequestException, AccessDeniedException (all 400), ResourceNotFoundException (404),
ThrottlingException (429), InternalServerException (500), ServiceUnavailableException (503).

Messages: ExpiredTokenException's is EKS Auth's own, as the Pod Identity Agent passes it on
(aws/eks-pod-identity-agent#89, boto/botocore#3117: "The token included in the request is
expired: current date/time <now> must be before the expiration date/time <exp>."). EKS Auth's
other messages are not on record; the ones below are podwarden's, each naming what failed
(docs/sources.md, "EKS Auth errors").
"""

from __future__ import annotations

from podwarden.model.errors import Denied, Invalid, NotFound
from podwarden.wire.error_table import Code, Family


def _token(message: str) -> Code:
    return Code("InvalidTokenException", 400, message)


def _denied(message: str) -> Code:
    return Code("AccessDeniedException", 400, message)


EKS_AUTH = Family(
    {
        NotFound: Code("ResourceNotFoundException", 404),
        Denied: Code("AccessDeniedException", 400),
        Invalid: Code("InvalidParameterException", 400),
        "cluster-not-found": Code(
            "ResourceNotFoundException", 404, "No cluster found for name: {clusterName}."
        ),
        "association-not-found": Code(
            "ResourceNotFoundException",
            404,
            "No EKS Pod Identity association found for service account {serviceAccount} in "
            "namespace {namespace} of cluster {clusterName}.",
        ),
        "token-expired": Code(
            "ExpiredTokenException",
            400,
            "The token included in the request is expired: current date/time {now} must be "
            "before the expiration date/time {expiration}.",
        ),
        "token-invalid": _token("The service account token is not valid: {why}."),
        "token-wrong-audience": _token(
            "The service account token's audience must be pods.eks.amazonaws.com."
        ),
        "token-other-cluster": _token(
            "The service account token was not issued by cluster {clusterName}."
        ),
        "token-not-bound": _token(
            "The service account token is not bound to a pod: EKS Pod Identity takes the token "
            "projected into the pod (audience pods.eks.amazonaws.com)."
        ),
        "role-not-assumable": _denied("EKS Pod Identity cannot assume role {roleArn}: {why}."),
    }
)
