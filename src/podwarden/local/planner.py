"""A local control plane's plan: the six processes, each with its flags, in start order.

Pure: paths, ports and binaries in, a ``components.Plan`` out. ``runtime`` executes it;
``podwarden up --dry-run`` prints it (``Plan.render``); tests/golden pins it.
Flags follow docs/sources.md, "Control-plane flags", adapted to Kubernetes 1.32.

A control plane that is an EKS cluster of the local account gets ``token_webhook``: the URL of
podwarden's ``api.eks_authn`` route for that cluster. The apiserver then sends bearer tokens it
does not know itself (``aws eks get-token``'s) there as a ``TokenReview``
(``--authentication-token-webhook-config-file``, the kubeconfig ``runtime`` writes to
``Layout.token_webhook_config``; ``--authentication-token-webhook-version=v1``), exactly as EKS's
apiservers consult aws-iam-authenticator; client certificates (the admin kubeconfig, the
components' identities) keep working beside it. Answers are cached 10 s instead of the default
2 min, so that a deleted access entry or policy stops working about as soon as on EKS.

An EKS cluster's plane also gets ``issuer``, the cluster's OIDC issuer (DescribeCluster's
``identity.oidc.issuer``, ``logic.oidc_issuer``): the apiserver issues service-account tokens
with it as ``iss`` (the first ``--service-account-issuer``), still accepts tokens of the issuer
every plane used before (``https://kubernetes.default.svc.cluster.local``, the second one: a
plane restarted with its cluster's issuer keeps its old tokens valid), advertises EKS's JWKS
path (``--service-account-jwks-uri=<issuer>/keys``) and keeps that old issuer as the audience of
tokens meant for itself (``--api-audiences``, which otherwise follows the first issuer).

An IPv6 EKS cluster (``network``: ``model.planes.PlaneNetwork``, R14 in docs/requirements.md)
gets a single-stack IPv6 plane: every listener on ``::1`` instead of 127.0.0.1 (etcd's URLs
``http://[::1]:port``), the apiserver's ``--service-cluster-ip-range`` the cluster's
``serviceIpv6Cidr`` (so the ``kubernetes`` Service's ClusterIP is its first address), kwok's
default pod range ``POD_CIDR_V6`` (HyperPod nodes bring their own: ``logic.node_spec``). The
controller manager needs nothing more: its node IPAM controller is off on every plane (pod
ranges come from the nodes, as the VPC CNI's do). HyperPod nodes of such a cluster carry their
subnets' IPv6 addresses as InternalIP, which are not on this machine: the apiserver reaches
their kubelet (kwok) through ``local.kubelet_tunnel``, its egress for the ``cluster`` network
(``--egress-selector-config-file``), without ``--kubelet-certificate-authority`` (the node's
address is not in kwok's certificate; the tunnel only ever leads to kwok on loopback).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from podwarden.local.components import Component, Layout, Plan, Ports, Probe, host_port, loopback
from podwarden.local.pki import FRONT_PROXY_CLIENT
from podwarden.model.planes import PlaneNetwork

SERVICE_CIDR = "10.96.0.0/24"
POD_CIDR = "10.0.0.1/24"
# an IPv6 plane's pods on kwok nodes without a spec.podCIDR of their own: unique local (RFC 4193)
POD_CIDR_V6 = "fd00:10:244::/64"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Go runtime settings per component (the caller's own environment wins). The apiserver's heap
# is kept near 1 GiB, a soft limit (its GC runs more often as the heap nears it, never more than
# half the CPU): at 5,000 nodes, with three DaemonSet pods on each, it otherwise grew to 1.9 GB
# (BENCHMARKS.md, "Growth with the cluster"); a small cluster never reaches it. Not lower: at
# 768 MiB its heap sat at the limit through a burst of 500 replacements at 5,000 nodes, and the
# plane fell behind (BENCHMARKS.md, "What a 5,000-node podwarden holds").
GO_ENV: dict[str, dict[str, str]] = {"kube-apiserver": {"GOMEMLIMIT": "1GiB"}}

# kwok manages only nodes that carry this annotation, never a real kubelet's node.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
ALWAYS_ALLOW = "/healthz,/readyz,/livez"
# The Kubeflow job kinds the training operator runs: the HyperPod dependencies chart's
# training-operators sub-chart enables every scheme but MPIJob (docs/sources.md,
# "Dependencies chart").
TRAINING_SCHEMES = ("pytorchjob", "tfjob", "mxjob", "xgboostjob", "paddlejob")


def plan(
    layout: Layout,
    ports: Ports,
    binaries: Mapping[str, Path],
    *,
    fsync: bool = True,
    token_webhook: str | None = None,
    network: PlaneNetwork | None = None,
    issuer: str | None = None,
) -> Plan:
    """The six processes of a local control plane, in start order.

    ``fsync=False`` adds etcd's ``--unsafe-no-fsync``: faster, for throwaway test clusters only.
    ``token_webhook``: the EKS token webhook's URL; ``network``: IPv4 (None) or IPv6;
    ``issuer``: the EKS cluster's OIDC issuer (module docstring).
    """
    net = network or PlaneNetwork()
    apiserver = _apiserver(
        layout, ports, binaries["kube-apiserver"], net, token_webhook=token_webhook, issuer=issuer
    )
    return Plan(
        components=(
            _etcd(layout, ports, binaries["etcd"], net, fsync=fsync),
            apiserver,
            _controller_manager(layout, ports, binaries["kube-controller-manager"], net),
            _scheduler(layout, ports, binaries["kube-scheduler"], net),
            _kwok(layout, ports, binaries["kwok"], net),
            _training_operator(layout, ports, binaries["training-operator"], net),
        ),
        ports=ports,
        layout=layout,
        token_webhook=token_webhook,
        network=net,
        issuer=issuer,
    )


def _etcd_url(ports: Ports, net: PlaneNetwork) -> str:
    return f"http://{host_port(loopback(net), ports.etcd_client)}"


def _etcd(
    layout: Layout, ports: Ports, binary: Path, net: PlaneNetwork, *, fsync: bool
) -> Component:
    etcd_url = _etcd_url(ports, net)
    peer_url = f"http://{host_port(loopback(net), ports.etcd_peer)}"
    argv = [
        str(binary),
        "--name=podwarden",
        f"--data-dir={layout.etcd_dir}",
        f"--listen-client-urls={etcd_url}",
        f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=podwarden={peer_url}",
        "--listen-metrics-urls=",
        "--quota-backend-bytes=8589934592",
        # raft entries kept in memory between snapshots: etcd 3.6's default (3.5 keeps 100,000,
        # which at 5,000 nodes held about 1 GB of node and lease updates)
        "--snapshot-count=10000",
        "--log-level=warn",
    ]
    if not fsync:
        argv.append("--unsafe-no-fsync")
    return _component(layout, "etcd", argv, Probe(f"{etcd_url}/health"))


def _apiserver(
    layout: Layout,
    ports: Ports,
    binary: Path,
    net: PlaneNetwork,
    *,
    token_webhook: str | None,
    issuer: str | None = None,
) -> Component:
    pki = layout.pki
    host = loopback(net)
    argv = [
        str(binary),
        f"--etcd-servers={_etcd_url(ports, net)}",
        "--etcd-prefix=/registry",
        f"--bind-address={host}",
        f"--advertise-address={host}",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        *(_token_webhook_flags(layout) if token_webhook else []),
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        *_issuer_flags(issuer),
        f"--service-cluster-ip-range={net.service_cidr or SERVICE_CIDR}",
        f"--requestheader-client-ca-file={pki.front_proxy_ca_cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_client_cert}",
        f"--proxy-client-key-file={pki.front_proxy_client_key}",
        "--enable-aggregator-routing=true",  # no kube-proxy: reach aggregated APIs by endpoint
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        # kwok's kubelet API (logs, exec): every kwok node's InternalIP is 127.0.0.1 and its
        # kubelet port kwok's TLS server, whose certificate (the apiserver's, for 127.0.0.1)
        # is checked against our CA, so `kubectl logs` never leaves loopback.
        "--kubelet-preferred-address-types=InternalIP",
        *_kubelet_flags(layout, net),
        "--profiling=false",
        "--v=1",
    ]
    return _component(
        layout,
        "kube-apiserver",
        argv,
        Probe(f"https://{host_port(host, ports.apiserver)}/readyz", "admin", verify_ca=True),
    )


def _kubelet_flags(layout: Layout, net: PlaneNetwork) -> list[str]:
    """How the apiserver reaches the nodes' kubelet (kwok): directly on an IPv4 plane, whose
    nodes' InternalIP is 127.0.0.1; through the tunnel on an IPv6 one (module docstring)."""
    if net.ipv6:
        return [f"--egress-selector-config-file={layout.egress_selector_config}"]
    return [f"--kubelet-certificate-authority={layout.pki.ca_cert}"]


def _issuer_flags(issuer: str | None) -> list[str]:
    """Who the apiserver says issued its service-account tokens (module docstring): the EKS
    cluster's issuer first (what it issues with), the old shared one still accepted, and the
    audience of tokens for the apiserver itself kept as it was."""
    if issuer is None:
        return [f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"]
    return [
        f"--service-account-issuer={issuer}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-jwks-uri={issuer.rstrip('/')}/keys",
        f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
    ]


def _token_webhook_flags(layout: Layout) -> list[str]:
    """The apiserver's flags for the EKS token webhook (module docstring)."""
    return [
        f"--authentication-token-webhook-config-file={layout.token_webhook_config}",
        "--authentication-token-webhook-version=v1",
        "--authentication-token-webhook-cache-ttl=10s",
    ]


def _controller_manager(layout: Layout, ports: Ports, binary: Path, net: PlaneNetwork) -> Component:
    pki = layout.pki
    extra = [
        "--use-service-account-credentials=true",
        "--controllers=*,-nodeipam",
        f"--service-account-private-key-file={pki.sa_private}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
    ]
    name = "kube-controller-manager"
    return _kube_component(layout, name, binary, (net, ports.controller_manager), extra)


def _scheduler(layout: Layout, ports: Ports, binary: Path, net: PlaneNetwork) -> Component:
    return _kube_component(layout, "kube-scheduler", binary, (net, ports.scheduler), [])


def _kube_component(
    layout: Layout, name: str, binary: Path, listen: tuple[PlaneNetwork, int], extra: list[str]
) -> Component:
    """The controller manager or the scheduler: the flags they share (their identity's
    kubeconfig, pki.CLIENTS, for everything; a secure port on loopback), then ``extra``."""
    kubeconfig = layout.kubeconfig(name)
    net, port = listen
    host = loopback(net)
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--authorization-always-allow-paths={ALWAYS_ALLOW}",
        f"--bind-address={host}",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
        *extra,
    ]
    return _component(layout, name, argv, Probe(f"https://{host_port(host, port)}/healthz"))


def _kwok(layout: Layout, ports: Ports, binary: Path, net: PlaneNetwork) -> Component:
    pki = layout.pki
    key, value = KWOK_NODE_ANNOTATION
    host = loopback(net)
    argv = [
        str(binary),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        f"--config={layout.kwok_config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={key}={value}",
        f"--server-address={host_port(host, ports.kwok)}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--node-ip={host}",
        f"--node-port={ports.kwok}",
        "--enable-crds=Logs",
        f"--cidr={POD_CIDR_V6 if net.ipv6 else POD_CIDR}",
        "--node-lease-duration-seconds=40",
    ]
    probe = Probe(f"https://{host_port(host, ports.kwok)}/healthz", verify_ca=True)
    return _component(layout, "kwok", argv, probe)


def _training_operator(layout: Layout, ports: Ports, binary: Path, net: PlaneNetwork) -> Component:
    host = loopback(net)
    argv = [
        str(binary),
        f"--kubeconfig={layout.kubeconfig('training-operator')}",
        "--metrics-bind-address=0",
        f"--health-probe-bind-address={host_port(host, ports.training_operator_health)}",
        f"--webhook-host={host}",
        f"--webhook-server-port={ports.training_operator_webhook}",
        f"--webhook-cert-dir={layout.training_operator_certs}",
        *(f"--enable-scheme={scheme}" for scheme in TRAINING_SCHEMES),
        "--zap-devel=false",
    ]
    return _component(
        layout,
        "training-operator",
        argv,
        Probe(f"http://{host_port(host, ports.training_operator_health)}/readyz"),
    )


def _component(layout: Layout, name: str, argv: list[str], probe: Probe) -> Component:
    """One process of the plan, logging to ``logs/<name>.log``."""
    env = tuple(GO_ENV.get(name, {}).items())
    return Component(name, tuple(argv), probe, layout.log(name), env)
