"""What the training simulator reads and writes in Kubernetes, through ``kubernetes.aio``:
watched caches of job pods and nodes (``kube.informer``), pod annotations, the jobs' checkpoint
ConfigMaps and kwok's ``Logs`` objects. Plain dicts in and out; HTTP errors become
``model.errors``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.informer import Informer
from podwarden.kube.nodes import check_response, server_side_apply
from podwarden.logic.node_view import health_view
from podwarden.model.errors import NotFound, TemporaryError
from podwarden.model.jobs import KWOK_GROUP, KWOK_LOGS, KWOK_VERSION

log = logging.getLogger("podwarden.kube.training")

FIELD_MANAGER: Final = "podwarden-training"


class TrainingKube:
    def __init__(self, api: Any) -> None:
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)

    def pods(self, label: str) -> Informer:
        """A cache of the pods (all namespaces) that carry ``label``."""
        call = self._core.list_pod_for_all_namespaces_without_preload_content
        return Informer(f"pods with {label}", call, label_selector=label)

    def nodes(self) -> Informer:
        """A cache of every node, each as much as the simulator reads (``logic.node_view``)."""
        call = self._core.list_node_without_preload_content
        return Informer("nodes", call, keep=health_view)

    async def annotate_pod(
        self, namespace: str, name: str, uid: str, annotations: dict[str, str]
    ) -> None:
        """Merge ``annotations`` into the pod; the uid in the patch is a precondition, so a
        pod that was replaced by one of the same name is left alone (NotFound/Conflict)."""
        what = f"annotate pod {namespace}/{name}"
        patch = {"metadata": {"uid": uid, "annotations": annotations}}
        try:
            resp = await self._core.patch_namespaced_pod_without_preload_content(
                name, namespace, patch, _content_type="application/merge-patch+json"
            )
            await check_response(resp, what)
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        what = f"read ConfigMap {namespace}/{name}"
        try:
            resp = await self._core.read_namespaced_config_map_without_preload_content(
                name, namespace
            )
            found: dict[str, Any] = json.loads(await check_response(resp, what))
        except NotFound:
            return None
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        return found

    async def apply_config_map(self, obj: dict[str, Any]) -> None:
        """Create or update a ConfigMap by server-side apply (idempotent)."""
        meta = obj["metadata"]
        await server_side_apply(
            self._core.patch_namespaced_config_map_without_preload_content,
            meta["name"],
            meta["namespace"],
            body=obj,
            what=f"apply ConfigMap {meta['namespace']}/{meta['name']}",
            field_manager=FIELD_MANAGER,
        )

    async def apply_logs(self, obj: dict[str, Any]) -> None:
        """Create or update a kwok ``Logs`` object (``kwok.x-k8s.io/v1alpha1``)."""
        meta = obj["metadata"]
        await server_side_apply(
            self._custom.patch_namespaced_custom_object_without_preload_content,
            KWOK_GROUP,
            KWOK_VERSION,
            meta["namespace"],
            KWOK_LOGS,
            meta["name"],
            body=obj,
            what=f"apply Logs {meta['namespace']}/{meta['name']}",
            field_manager=FIELD_MANAGER,
        )
