"""What the web dashboard reads of a Kubernetes besides the watched nodes (``podwarden.dashboard``):
the Events on nodes, and the training jobs with their pods and checkpoint records. Lists only,
as the admin; a kind whose CRD is not installed (HyperPodPyTorchJob without the training
operator's add-on) reads as none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.nodes import check_response
from podwarden.model.errors import TemporaryError
from podwarden.model.jobs import (
    HPTO_GROUP,
    HPTO_JOB_LABEL,
    HPTO_KIND,
    HPTO_PLURAL,
    HPTO_VERSION,
    KUBEFLOW_GROUP,
    KUBEFLOW_JOB_NAME,
    KUBEFLOW_VERSION,
    PYTORCHJOB_KIND,
    PYTORCHJOBS,
    TRAINING_CHECKPOINT_LABEL,
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class JobObjects:
    jobs: list[tuple[str, Obj]]  # (kind, job)
    pods: list[Obj]
    records: list[Obj]  # the simulated trainer's checkpoint ConfigMaps


async def _items(call: Any, what: str, *, missing_ok: bool = False) -> list[Obj]:
    try:
        resp = await call
        body = await check_response(resp, what, ok_statuses=(404,) if missing_ok else ())
    except ClientError as exc:
        raise TemporaryError(f"{what}: {exc}") from exc
    if resp.status == 404:
        return []
    items: list[Obj] = json.loads(body).get("items") or []
    return items


async def node_events(api: Any) -> list[Obj]:
    """Events about nodes, in every namespace (the agent and the recovery write to default;
    the apiserver keeps an Event for an hour, ``--event-ttl``)."""
    core = client.CoreV1Api(api)
    call = core.list_event_for_all_namespaces_without_preload_content(
        field_selector="involvedObject.kind=Node"
    )
    return await _items(call, "list node events")


async def job_objects(api: Any) -> JobObjects:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    kubeflow = await _items(
        custom.list_cluster_custom_object_without_preload_content(
            KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS
        ),
        f"list {PYTORCHJOBS}",
        missing_ok=True,
    )
    hpto = await _items(
        custom.list_cluster_custom_object_without_preload_content(
            HPTO_GROUP, HPTO_VERSION, HPTO_PLURAL
        ),
        f"list {HPTO_PLURAL}",
        missing_ok=True,
    )
    pods: list[Obj] = []
    if kubeflow or hpto:
        for label in (KUBEFLOW_JOB_NAME, HPTO_JOB_LABEL):
            pods += await _items(
                core.list_pod_for_all_namespaces_without_preload_content(label_selector=label),
                f"list pods {label}",
            )
    records = await _items(
        core.list_config_map_for_all_namespaces_without_preload_content(
            label_selector=TRAINING_CHECKPOINT_LABEL
        ),
        "list checkpoint records",
    )
    jobs = [(PYTORCHJOB_KIND, j) for j in kubeflow] + [(HPTO_KIND, j) for j in hpto]
    return JobObjects(jobs, pods, records)
