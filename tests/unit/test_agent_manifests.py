"""The health agent's deployment: the plain manifest (deploy/health-agent-daemonset.yaml) keeps
the invariants (command, RBAC = the calls in the code, affinity to accelerated types only,
tolerations), and it is the Helm chart (deploy/helm/podwarden-health-agent) rendered with its
defaults. The chart is rendered by ``render_chart`` below, which knows exactly the template
constructs the chart uses, and by the real ``helm`` that ``scripts/build-k8s`` builds; both must
give the manifest (tests/integration/test_helm_charts.py installs the chart)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from podwarden.agent.service import HealthExporter, NodeAgent
from podwarden.cli import main as cli
from podwarden.local.assets import find_optional
from podwarden.logic.faults import Signal
from podwarden.policy.catalog import load_catalog
from podwarden.policy.fault_policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "health-agent-daemonset.yaml"
CHART = ROOT / "deploy" / "helm" / "podwarden-health-agent"
NAMESPACE = "podwarden-system"
HEALTH_TAINT = {
    "key": "sagemaker.amazonaws.com/node-health-status",
    "value": "Unschedulable",
    "effect": "NoSchedule",
}
# KubeNodes method -> the (resource, verb) it needs (src/podwarden/kube/nodes.py)
VERBS = {
    "get": ("nodes", "get"),
    "list": ("nodes", "list"),
    "patch": ("nodes", "patch"),
    "patch_status": ("nodes/status", "patch"),
    "create": ("nodes", "create"),
    "delete": ("nodes", "delete"),
    "event": ("events", "create"),
}


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def manifest() -> dict[tuple[str, str], dict[str, Any]]:
    return by_kind(documents(MANIFEST.read_text()))


def daemonsets() -> list[dict[str, Any]]:
    return [d for (kind, _), d in manifest().items() if kind == "DaemonSet"]


# ---- a renderer for the chart's few template constructs -------------------------------------

EXPR = re.compile(r"\{\{-?\s*(.+?)\s*-?\}\}")
BLOCK = re.compile(r"^\s*\{\{-\s*(?:(toYaml)\s+)?(\.\S+)\s*\|\s*nindent\s+(\d+)\s*\}\}\s*$")
IF = re.compile(r"^\s*\{\{-?\s*if\s+(\.\S+)\s*-?\}\}\s*$")
END = re.compile(r"^\s*\{\{-?\s*end\s*-?\}\}\s*$")


def lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    for part in path.lstrip(".").split("."):
        value = value[part]
    return value


def render_template(text: str, context: dict[str, Any]) -> str:
    """Helm's output for: ``{{ .Path }}`` in a line, ``{{- [toYaml] .Path | nindent N }}`` and
    ``{{- if .Path }}`` / ``{{- end }}`` on lines of their own (not nested). Anything else
    fails the test, so a new construct in the chart needs this renderer (or helm) to follow."""
    out: list[str] = []
    keep = [True]
    for line in text.splitlines():
        if m := IF.match(line):
            keep.append(keep[-1] and bool(lookup(m[1], context)))
            continue
        if END.match(line):
            keep.pop()
            continue
        if not keep[-1]:
            continue
        if m := BLOCK.match(line):
            value = lookup(m[2], context)
            body = yaml.safe_dump(value, sort_keys=False) if m[1] else str(value)
            out += textwrap.indent(body.rstrip("\n"), " " * int(m[3])).splitlines()
            continue
        rendered = EXPR.sub(lambda e: str(lookup(e[1], context)), line)
        assert "{{" not in rendered, f"unsupported template construct: {line!r}"
        out.append(rendered)
    assert keep == [True], "unbalanced if/end"
    return "\n".join(out) + "\n"


def render_chart(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    context = {
        "Values": values or yaml.safe_load((CHART / "values.yaml").read_text()),
        "Release": {"Namespace": NAMESPACE, "Name": "podwarden-health-agent"},
    }
    docs = []
    for template in sorted((CHART / "templates").glob("*.yaml")):
        docs += documents(render_template(template.read_text(), context))
    return docs


# ---- the plain manifest ---------------------------------------------------------------------


def test_the_manifest_is_the_chart_rendered_with_its_defaults() -> None:
    plain = manifest()
    plain.pop(("Namespace", NAMESPACE))
    assert by_kind(render_chart()) == plain


def test_helm_renders_the_same(tmp_path: Path) -> None:
    # helm is built by scripts/build-k8s (toolchain.toml), like kubectl: never skipped
    helm = find_optional("helm")
    assert helm is not None, "helm is not built: run scripts/build-k8s (make test does)"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [str(helm), "template", "podwarden-health-agent", str(CHART), "--namespace", NAMESPACE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    plain = manifest()
    plain.pop(("Namespace", NAMESPACE))
    assert by_kind(documents(out)) == plain


def test_the_agents_run_podwarden_agent_on_their_node() -> None:
    commands = {}
    for ds in daemonsets():
        (container,) = ds["spec"]["template"]["spec"]["containers"]
        commands[ds["metadata"]["name"]] = container["command"]
        env = {e["name"]: e for e in container["env"]}
        assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
        assert container["image"] == "podwarden:0.1.0"
        assert container["securityContext"]["privileged"] is True
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
        assert volumes[mounts["/dev/kmsg"]]["hostPath"] == {
            "path": "/dev/kmsg",
            "type": "CharDevice",
        }
        kubeconfig = commands[ds["metadata"]["name"]][5]
        assert Path(kubeconfig).parent.as_posix() in mounts
    base = ["podwarden", "agent", "--node", "$(NODE_NAME)", "--kubeconfig",
            "/etc/podwarden/kubeconfig/kubeconfig", "--kernel-log", "/dev/kmsg"]  # fmt: skip
    assert commands == {
        "podwarden-health-agent": [*base, "--nvml"],
        "podwarden-health-agent-neuron": base,
    }
    # the command is one the CLI accepts
    for command in commands.values():
        args = cli.parser().parse_args(command[1:])
        assert args.func is cli.cmd_agent and args.kernel_log == "/dev/kmsg"


def test_nvml_only_on_gpu_nodes() -> None:
    env = {}
    for ds in daemonsets():
        (container,) = ds["spec"]["template"]["spec"]["containers"]
        env[ds["metadata"]["name"]] = {e["name"]: e.get("value") for e in container["env"]}
    assert env["podwarden-health-agent"]["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert env["podwarden-health-agent"]["NVIDIA_DRIVER_CAPABILITIES"] == "utility"  # NVML
    assert env["podwarden-health-agent-neuron"]["NVIDIA_VISIBLE_DEVICES"] == "void"


def affinity_types(ds: dict[str, Any]) -> list[str]:
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    (term,) = terms
    (expression,) = term["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("node.kubernetes.io/instance-type", "In")
    return list(expression["values"])


def test_affinity_is_every_accelerated_type_and_no_cpu_type() -> None:
    """Seed R17: the agent supports GPU and Trainium instances; HyperPod schedules its agent on
    those types only, so CPU instances get no automatic detection (and R15: no replacement)."""
    catalog = load_catalog()
    wanted = {
        "podwarden-health-agent": [t.name for t in catalog if t.accelerator == "gpu"],
        "podwarden-health-agent-neuron": [t.name for t in catalog if t.accelerator == "neuron"],
    }
    for ds in daemonsets():
        types = affinity_types(ds)
        assert types == wanted[ds["metadata"]["name"]]
        assert not [t for t in types if catalog.get(t).is_cpu_only]
    cpu = [t.name for t in catalog if t.is_cpu_only]
    assert cpu and not set(cpu) & {t for ds in daemonsets() for t in affinity_types(ds)}


def tolerates(toleration: dict[str, Any], taint: dict[str, str]) -> bool:
    """Kubernetes' rule: empty key with Exists matches every key; empty effect every effect."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and toleration.get("value") == taint["value"]


def test_the_agents_stay_on_quarantined_nodes() -> None:
    for ds in daemonsets():
        tolerations = ds["spec"]["template"]["spec"]["tolerations"]
        assert HEALTH_TAINT in [
            {k: t.get(k) for k in ("key", "value", "effect")} for t in tolerations
        ]
        for effect in ("NoSchedule", "NoExecute"):
            taint = {"key": "any", "value": "x", "effect": effect}
            assert any(tolerates(t, taint) for t in tolerations)


# ---- RBAC = what the code calls -------------------------------------------------------------


def rbac_rules() -> set[tuple[str, str]]:
    role = manifest()[("ClusterRole", "podwarden-health-agent")]
    out = set()
    for rule in role["rules"]:
        assert rule["apiGroups"] == [""]
        out |= {(r, v) for r in rule["resources"] for v in rule["verbs"]}
    return out


def node_calls(source: str, receivers: tuple[str, ...]) -> set[str]:
    """Methods called on ``self.nodes`` / ``nodes`` in a piece of code."""
    calls = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if owner in receivers:
                calls.add(node.func.attr)
    return calls


def test_rbac_is_exactly_what_the_agent_calls() -> None:
    """Read from the code: the calls of HealthExporter and NodeAgent on their KubeNodes, and
    those of ``podwarden agent`` itself (the node read at start-up)."""
    called = set()
    for code in (HealthExporter, NodeAgent):
        called |= node_calls(inspect.getsource(code), ("self.nodes",))
    called |= node_calls(inspect.getsource(cli.cmd_agent), ("nodes",))
    called.discard("close")  # closes the client's session: no API call
    assert called == {"get", "patch", "patch_status", "event"}
    assert {VERBS[c] for c in called} == rbac_rules()
    binding = manifest()[("ClusterRoleBinding", "podwarden-health-agent")]
    assert binding["roleRef"]["name"] == "podwarden-health-agent"
    (subject,) = binding["subjects"]
    assert (subject["name"], subject["namespace"]) == ("podwarden-health-agent", NAMESPACE)
    for ds in daemonsets():
        assert ds["spec"]["template"]["spec"]["serviceAccountName"] == subject["name"]


class RecordingNodes:
    """KubeNodes as the agent uses it, recording each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.node = {
            "metadata": {"name": "n", "labels": {}, "annotations": {}, "resourceVersion": "1"},
            "spec": {},
            "status": {},
        }

    async def get(self, name: str) -> dict[str, Any]:
        self.calls.append("get")
        return self.node

    async def patch(self, name: str, patch: dict[str, Any]) -> None:
        self.calls.append("patch")

    async def patch_status(self, name: str, patch: dict[str, Any], **_: Any) -> None:
        self.calls.append("patch_status")

    async def event(self, node: str, **_: Any) -> None:
        self.calls.append("event")


class OneFault:
    def __init__(self) -> None:
        self.sent = False

    def read(self, now: float) -> list[Signal]:
        if self.sent:
            return []
        self.sent = True
        return [Signal(at=now, xid=79, device="0000:b9:00", message="fallen off the bus")]

    def close(self) -> None:
        pass


def test_a_fault_uses_only_the_granted_verbs() -> None:
    nodes = RecordingNodes()
    agent = NodeAgent(nodes, load_policy(), "n", [OneFault()], interval=0.01)  # type: ignore[arg-type]

    async def run() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(agent.run(), 0.2)

    asyncio.run(run())
    assert {"get", "patch", "patch_status", "event"} <= set(nodes.calls)
    assert {VERBS[c] for c in nodes.calls} <= rbac_rules()


# ---- the chart's options and its kubeconfig -------------------------------------------------


def test_a_fault_policy_value_is_mounted_and_passed() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values |= {"faultPolicy": "version: 1\nrules: []\n", "runtimeClassName": "nvidia"}
    docs = by_kind(render_chart(values))
    policy = docs[("ConfigMap", "podwarden-health-agent-fault-policy")]
    assert policy["data"]["fault_policy.yaml"] == "version: 1\nrules: []\n"
    ds = docs[("DaemonSet", "podwarden-health-agent")]
    spec = ds["spec"]["template"]["spec"]
    assert spec["runtimeClassName"] == "nvidia"
    (container,) = spec["containers"]
    assert container["command"][-2:] == [
        "--fault-policy",
        "/etc/podwarden/fault-policy/fault_policy.yaml",
    ]
    assert "/etc/podwarden/fault-policy" in {m["mountPath"] for m in container["volumeMounts"]}


def test_the_kubeconfig_is_the_pods_service_account(tmp_path: Path) -> None:
    """The kubeconfig ConfigMap loads with the client podwarden uses (token and CA read from
    the service-account volume; here from stand-ins for it)."""
    from kubernetes.aio import client, config  # noqa: PLC0415

    text = manifest()[("ConfigMap", "podwarden-health-agent-kubeconfig")]["data"]["kubeconfig"]
    secrets = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert f"{secrets}/token" in text and f"{secrets}/ca.crt" in text
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "kubeconfig"
    path.write_text(text.replace(secrets, str(tmp_path)))

    async def load() -> client.Configuration:
        configuration = client.Configuration()
        await config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path), client_configuration=configuration
        )
        return configuration

    loaded = asyncio.run(load())
    assert loaded.host == "https://kubernetes.default.svc"
    assert loaded.api_key["BearerToken"] == "Bearer sa-token"
    assert loaded.ssl_ca_cert == str(tmp_path / "ca.crt")
