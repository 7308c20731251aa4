"""What a local control plane applies to itself (local.bootstrap), from the real manifests."""

from __future__ import annotations

import base64

import pytest

from podwarden.local import bootstrap
from podwarden.local.assets import find_manifests
from podwarden.local.errors import BinariesNotFound


@pytest.fixture(scope="module")
def manifests() -> dict[str, str]:
    try:
        found = {**find_manifests("kwok"), **find_manifests("training-operator")}
    except BinariesNotFound as exc:  # make k8s copies them; a fresh checkout must build first
        pytest.fail(str(exc))
    return {name: path.read_text() for name, path in found.items()}


def test_crds_and_the_operators_own_role_come_before_the_components(
    manifests: dict[str, str],
) -> None:
    applies = bootstrap.before_components(manifests)
    assert set(bootstrap.crd_names(applies)) == {
        "logs.kwok.x-k8s.io",
        "pytorchjobs.kubeflow.org",
        "tfjobs.kubeflow.org",
        "mxjobs.kubeflow.org",
        "xgboostjobs.kubeflow.org",
        "paddlejobs.kubeflow.org",
    }
    role = next(a for a in applies if a.body["kind"] == "ClusterRole")
    assert role.path == "/apis/rbac.authorization.k8s.io/v1/clusterroles/training-operator"
    binding = next(a for a in applies if a.body["kind"] == "ClusterRoleBinding")
    # bound to the user of its client certificate, not to a group with wider rights
    assert binding.body["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "training-operator"}
    ]
    assert binding.body["roleRef"]["name"] == "training-operator"
    assert not any(a.body["kind"] == "ValidatingWebhookConfiguration" for a in applies)


def test_webhooks_are_called_by_url_on_loopback_with_our_ca(manifests: dict[str, str]) -> None:
    ca = b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    [apply] = bootstrap.after_components(manifests, "https://127.0.0.1:9443", ca)
    assert apply.path.endswith(
        "/validatingwebhookconfigurations/validator.training-operator.kubeflow.org"
    )
    hooks = apply.body["webhooks"]
    assert {h["name"] for h in hooks} >= {"validator.pytorchjob.training-operator.kubeflow.org"}
    for hook in hooks:
        config = hook["clientConfig"]
        assert "service" not in config
        assert config["url"].startswith("https://127.0.0.1:9443/validate-kubeflow-org-v1-")
        assert base64.b64decode(config["caBundle"]) == ca
        assert hook["failurePolicy"] == "Fail"  # kept from the module's manifest
