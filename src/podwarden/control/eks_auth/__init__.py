"""EKS Auth (``eks-auth``, rest-json) of the local account: AssumeRoleForPodIdentity, the API
the EKS Pod Identity Agent calls (``credentials``). Errors are domain errors with a reason,
worded on the wire by ``podwarden.wire.errors_eks_auth``.
"""

from podwarden.control.eks_auth import credentials
from podwarden.control.registry import merge

OPERATIONS = merge(credentials.OPERATIONS)
