"""kwok Stages podwarden adds to kwok's configuration (``local.runtime`` writes them into the
kwok config file of every control plane): ``tables/kwok_pod_stages.yaml``.

What kwok v0.7.0 does with them (source: the ``sigs.k8s.io/kwok`` v0.7.0 module):

- the replacement rule: ``pkg/kwok/cmd/root.go`` groups the configured Stages by
  ``spec.resourceRef`` and uses its built-in stages for ``{v1, Node}`` or ``{v1, Pod}`` only when
  that group is empty. One Pod stage in the config therefore drops all of kwok's default Pod
  stages, so the table carries them: the "fast" set (``kustomize/stage/pod/fast/pod-ready.yaml``,
  ``pod-complete.yaml``, ``pod-delete.yaml``, which ``getDefaultPodStages`` loads), verbatim.
  Node stages are not named, so kwok's node defaults (init, heartbeat with lease) stay;
- matching: on every pod event the pod controller picks the stages whose selector matches
  (``matchLabels``, ``matchAnnotations``, jq ``matchExpressions``); among several it picks one at
  random by weight (``pkg/utils/lifecycle/lifecycle.go``), so podwarden's stages select what no
  default does (a Running pod with the simulator's annotation), and play with no delay;
- ``next.statusTemplate`` is a Go template (sprig, plus kwok's ``Now``, ``Quote``,
  ``NodeIPWith``, ``PodIPWith``) rendered over the object and patched into its status.

The table is checked when loaded: every document a ``kwok.x-k8s.io/v1alpha1`` Stage with a
unique name, a ``resourceRef``, a ``selector`` and a ``next``; kwok's own default Pod stages
(``BUILTIN_POD_STAGES``) present, since leaving one out would silently change how every pod of
every control plane behaves. An integration test compares them with the module's files.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from podwarden.model.jobs import KWOK_GROUP, KWOK_VERSION
from podwarden.policy.yaml_tables import TableError, fail, packaged

TABLE = "kwok_pod_stages.yaml"
# kwok v0.7.0's default Pod stages (kustomize/stage/pod/fast, getDefaultPodStages)
BUILTIN_POD_STAGES = ("pod-ready", "pod-complete", "pod-delete")


def parse_stages(text: str, source: str) -> list[dict[str, Any]]:
    """The Stage documents of ``text``; :class:`TableError` naming the document and field."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from None
    names: set[str] = set()
    for index, doc in enumerate(docs, 1):
        where = f"document {index}"
        if not isinstance(doc, dict) or doc.get("kind") != "Stage":
            fail(source, where, "expected kind: Stage")
        if doc.get("apiVersion") != f"{KWOK_GROUP}/{KWOK_VERSION}":
            fail(source, where, f"field 'apiVersion' must be {KWOK_GROUP}/{KWOK_VERSION}")
        name = (doc.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name or name in names:
            fail(source, where, f"field 'metadata.name' must be a unique name, not {name!r}")
        names.add(name)
        spec = doc.get("spec")
        for key in ("resourceRef", "selector", "next"):
            if not isinstance(spec, dict) or not isinstance(spec.get(key), dict):
                fail(source, f"stage {name!r}", f"field 'spec.{key}' must be a mapping")
    if missing := [n for n in BUILTIN_POD_STAGES if n not in names]:
        fail(source, "stages", f"kwok's default Pod stage(s) {', '.join(missing)} missing")
    return docs


@functools.cache
def stages() -> list[dict[str, Any]]:
    """The checked Stage documents."""
    return parse_stages(*packaged(TABLE))


def stages_yaml() -> str:
    """YAML documents (``kind: Stage``) to append to the kwok configuration; "" for none."""
    stages()  # a table that breaks its schema fails here, at start-up
    text, _ = packaged(TABLE)
    return text
