"""Namespaces, service accounts and CRDs through ``kubernetes.aio``: the objects an EKS add-on
installs besides its workloads (``policy.eks_addon_objects``), such as the HyperPod training
operator's namespace, service account and HyperPodPyTorchJob CRD.

Applied with server-side apply (field manager ``podwarden``, forced), as ``kube.workloads``
applies DaemonSets and Deployments: one idempotent call creates or updates, so a reconciler can
repeat it. Deleting what is gone already counts as deleted. Plain dicts in and out.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.nodes import check_response, read_object, server_side_apply
from podwarden.model.errors import TemporaryError

# kind -> (API class, the method stem after ``patch_``/``delete_``/``read_``, namespaced)
KINDS: Final = {
    "Namespace": ("CoreV1Api", "namespace", False),
    "ServiceAccount": ("CoreV1Api", "namespaced_service_account", True),
    "CustomResourceDefinition": ("ApiextensionsV1Api", "custom_resource_definition", False),
    # podwarden's pod identity webhook (api.pod_identity_webhook), applied by the EKS reconciler
    "MutatingWebhookConfiguration": (
        "AdmissionregistrationV1Api",
        "mutating_webhook_configuration",
        False,
    ),
}


class KubeObjects:
    def __init__(self, api: Any) -> None:
        self._apis: dict[str, Any] = {
            "CoreV1Api": client.CoreV1Api(api),
            "ApiextensionsV1Api": client.ApiextensionsV1Api(api),
            "AdmissionregistrationV1Api": client.AdmissionregistrationV1Api(api),
        }

    def _method(self, verb: str, kind: str) -> tuple[Any, bool]:
        api, stem, namespaced = KINDS[kind]
        return getattr(self._apis[api], f"{verb}_{stem}_without_preload_content"), namespaced

    async def apply(self, obj: dict[str, Any]) -> None:
        kind, meta = obj["kind"], obj["metadata"]
        method, namespaced = self._method("patch", kind)
        where = (meta["namespace"],) if namespaced else ()
        what = f"apply {kind} {'/'.join((*where, meta['name']))}"
        await server_side_apply(method, meta["name"], *where, body=obj, what=what)

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete an object (``namespace`` is ignored for cluster-scoped kinds); one that is
        gone already counts as deleted."""
        method, namespaced = self._method("delete", kind)
        where = (namespace,) if namespaced else ()
        what = f"delete {kind} {'/'.join((*where, name))}"
        try:
            resp = await method(name, *where)
            await check_response(resp, what, ok_statuses=(404,))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        method, namespaced = self._method("read", kind)
        where = (namespace,) if namespaced else ()
        what = f"read {kind} {'/'.join((*where, name))}"
        return await read_object(method, name, *where, what=what)
