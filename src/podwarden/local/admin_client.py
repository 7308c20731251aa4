"""The local apiserver as its admin reaches it: HTTPS on loopback with the admin's client
certificate, checked against podwarden's CA.

What ``runtime.ControlPlane`` does through it once the apiserver is ready: server-side apply of
the bootstrap objects (``bootstrap``, idempotent) and waiting until their CRDs are Established;
with a token webhook, the ClusterRoleBindings that give the groups of EKS access policies their
permissions (``logic.eks_identity.policy_bindings``). ``ssl_context`` also serves the runtime's
readiness probes.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

from podwarden.local.bootstrap import APPLIED_HASH, Apply, crd_names, stamped
from podwarden.local.components import Probe
from podwarden.local.errors import LocalK8sError
from podwarden.local.pki import PkiPaths
from podwarden.logic.eks_identity import policy_bindings


def ssl_context(probe: Probe, pki: PkiPaths) -> ssl.SSLContext | None:
    """The TLS context that GETs ``probe.url``: None for plain HTTP."""
    if not probe.url.startswith("https"):
        return None
    if probe.verify_ca:
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if probe.client:
        ctx.load_cert_chain(pki.client_cert(probe.client), pki.client_key(probe.client))
    return ctx


class AdminClient:
    """The admin's requests to the apiserver at ``url`` (``https://127.0.0.1:<port>``)."""

    def __init__(self, url: str, pki: PkiPaths) -> None:
        self.url = url
        self.context = ssl_context(Probe(url, "admin", verify_ca=True), pki)

    def create_policy_bindings(self) -> None:
        """POST each access-policy ClusterRoleBinding as the admin; one that exists is kept."""
        url = f"{self.url}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
        for obj in policy_bindings():
            request = urllib.request.Request(  # noqa: S310 - the apiserver on loopback
                url,
                data=json.dumps(obj).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, context=self.context, timeout=10):  # noqa: S310
                    pass
            except urllib.error.HTTPError as e:
                if e.code != 409:  # AlreadyExists
                    body = e.read()[:300].decode("utf-8", "replace")
                    raise LocalK8sError(
                        f"creating ClusterRoleBinding {obj['metadata']['name']}: "
                        f"HTTP {e.code}: {body}"
                    ) from None

    def bootstrap(self, applies: list[Apply], deadline: float) -> None:
        """Server-side apply each object as the admin (idempotent), then wait until the
        CRDs among them are Established, so the components that watch them can start. A CRD
        that already carries the hash of the same body (``bootstrap.APPLIED_HASH``: a
        restart) is not applied again."""
        crds = set(crd_names(applies))
        known = self._applied_crds(deadline) if crds else {}
        for item in applies:
            name = item.body["metadata"]["name"]
            body, digest = stamped(item)
            if name not in crds or known.get(name) != digest:
                self.apply(body, deadline)
        for name in crd_names(applies):
            self.await_established(name, deadline)

    def _applied_crds(self, deadline: float) -> dict[str, str]:
        """Every CRD's name and applied hash, from one list of their metadata only."""
        request = urllib.request.Request(  # noqa: S310 - the apiserver on loopback
            f"{self.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"},
        )
        while True:
            left = deadline - time.monotonic()
            try:
                opened = urllib.request.urlopen(request, context=self.context, timeout=max(left, 1))  # noqa: S310
                with opened as r:
                    items = json.loads(r.read()).get("items") or []
                    return {
                        i["metadata"]["name"]: (i["metadata"].get("annotations") or {}).get(
                            APPLIED_HASH, ""
                        )
                        for i in items
                    }
            except (OSError, TimeoutError, ValueError):  # a busy apiserver: ask again
                if left <= 0:
                    return {}  # apply them all
            time.sleep(0.2)

    def apply(self, item: Apply, deadline: float) -> None:
        """One server-side apply, tried again until ``deadline`` while the apiserver is slow or
        busy (a fresh apiserver on a loaded machine can take over 10 s for a large CRD);
        refusals other than 429 and 5xx end it at once."""
        request = urllib.request.Request(  # noqa: S310 - the apiserver on loopback
            f"{self.url}{item.path}?fieldManager=podwarden&force=true",
            data=json.dumps(item.body).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
            method="PATCH",
        )
        while True:
            left = deadline - time.monotonic()
            try:
                with urllib.request.urlopen(request, context=self.context, timeout=max(left, 1)):  # noqa: S310
                    return
            except urllib.error.HTTPError as e:
                body = e.read()[:300].decode("utf-8", "replace")
                if (e.code != 429 and e.code < 500) or left <= 0:
                    raise LocalK8sError(f"applying {item.name}: HTTP {e.code}: {body}") from None
            except (OSError, TimeoutError) as e:
                if left <= 0:
                    raise LocalK8sError(f"applying {item.name}: {e}") from None
            time.sleep(0.2)

    def await_established(self, name: str, deadline: float) -> None:
        """Wait until the CustomResourceDefinition ``name`` is Established."""
        url = f"{self.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        conditions: list[dict[str, str]] = []
        while True:
            left = deadline - time.monotonic()
            try:
                with urllib.request.urlopen(url, context=self.context, timeout=max(left, 1)) as r:  # noqa: S310
                    status = json.loads(r.read()).get("status") or {}
                    conditions = status.get("conditions") or []  # null until the first status
            except (OSError, TimeoutError):  # a busy apiserver: ask again until the deadline
                conditions = []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
            if left <= 0:
                raise LocalK8sError(
                    f"CustomResourceDefinition {name} not Established in time ({conditions})"
                )
            time.sleep(0.05)

    def await_exists(self, path: str, what: str, deadline: float) -> None:
        """Wait until the object at ``path`` (an API path) exists, e.g. what a controller
        creates once it runs."""
        while True:
            left = deadline - time.monotonic()
            try:
                with urllib.request.urlopen(  # noqa: S310 - the apiserver on loopback
                    f"{self.url}{path}", context=self.context, timeout=max(left, 1)
                ):
                    return
            except (OSError, TimeoutError):  # 404 until it exists, or a busy apiserver
                pass
            if left <= 0:
                raise LocalK8sError(f"{what} does not exist after the plane started ({path})")
            time.sleep(0.05)
