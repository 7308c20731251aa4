"""What a goodput run reads and writes in Kubernetes (``goodput.runner``), through
``kubernetes.aio``: watched caches of the cluster's nodes, the job's pods and the job's checkpoint
ConfigMap (``kube.informer.Informer``), the job itself, and a pod ended as a crashed rank
would be. Plain dicts in and out; HTTP errors become ``model.errors``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.informer import Informer
from podwarden.kube.nodes import check_response
from podwarden.kube.objects import KubeObjects
from podwarden.model.errors import TemporaryError
from podwarden.model.jobs import KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS


class GoodputKube:
    def __init__(self, api: Any) -> None:
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._objects = KubeObjects(api)

    def nodes(self, label_selector: str) -> Informer:
        call = self._core.list_node_without_preload_content
        return Informer("nodes", call, label_selector=label_selector)

    def pods(self, namespace: str, label_selector: str) -> Informer:
        call = self._core.list_namespaced_pod_without_preload_content
        return Informer(f"pods {label_selector}", call, namespace=namespace,
                        label_selector=label_selector)  # fmt: skip

    def config_map(self, namespace: str, name: str) -> Informer:
        call = self._core.list_namespaced_config_map_without_preload_content
        return Informer(f"configmap {namespace}/{name}", call, namespace=namespace,
                        field_selector=f"metadata.name={name}")  # fmt: skip

    async def create_namespace(self, name: str) -> None:
        await self._objects.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )

    async def create_pytorchjob(self, job: dict[str, Any]) -> None:
        namespace = job["metadata"]["namespace"]
        what = f"create PyTorchJob {namespace}/{job['metadata']['name']}"
        method = self._custom.create_namespaced_custom_object_without_preload_content
        try:
            resp = await method(KUBEFLOW_GROUP, KUBEFLOW_VERSION, namespace, PYTORCHJOBS, job)
            await check_response(resp, what)
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def delete_pod(self, namespace: str, name: str) -> None:
        """End a pod at once, as a crashed rank's container ends (its job's controller
        re-creates it); one that is gone already counts as deleted."""
        what = f"delete pod {namespace}/{name}"
        body = client.V1DeleteOptions(grace_period_seconds=0)
        try:
            resp = await self._core.delete_namespaced_pod_without_preload_content(
                name, namespace, body=body
            )
            await check_response(resp, what, ok_statuses=(404,))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
