"""The pod identity webhook's decision (``logic.pod_identity_webhook``), checked against the
expected patches of aws/amazon-eks-pod-identity-webhook's own test pods
(``pkg/handler/testdata``), and the admission answer and configuration podwarden sends."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from podwarden.logic import pod_identity_webhook as piw

ROLE = "arn:aws:iam::111122223333:role/s3-reader"
TOKEN = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
AGENT = "http://127.0.0.1:8600/_podwarden/eks-pod-identity/000000000000/us-west-2/c1/v1/credentials"


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    annotations = spec.pop("annotations", None)
    metadata: dict[str, Any] = {"name": "balajilovesoreos"}
    if annotations:
        metadata["annotations"] = annotations
    body = {
        "containers": list(containers) or [{"image": "amazonlinux", "name": "balajilovesoreos"}]
    }
    return {"metadata": metadata, "spec": {**body, "serviceAccountName": "default", **spec}}


def no_jitter(lo: int, hi: int) -> int:
    raise AssertionError("no jitter expected")


def patch_for(
    p: dict[str, Any],
    sa: dict[str, str] | None,
    *,
    associated: bool = False,
    region: str = "",
    regional: bool = False,
    jitter: Any = no_jitter,
) -> list[dict[str, Any]] | None:
    settings = piw.WebhookSettings(region=region, credentials_uri=AGENT, regional_sts=regional)
    config = piw.patch_config(p, sa, associated, settings, jitter)
    if config is None:
        return None
    patch, _ = piw.pod_patch(p, config, region)
    return patch


def eks(expected: str) -> list[dict[str, Any]]:
    """An expected patch of EKS's tests, without the ``resources: {}`` Go always writes."""
    patch: list[dict[str, Any]] = json.loads(expected)
    for op in patch:
        if op["path"] in ("/spec/containers", "/spec/initContainers"):
            for c in op["value"]:
                if c.get("resources") == {}:
                    del c["resources"]
    return patch


def test_irsa_pod_without_volumes() -> None:  # rawPodWithoutVolumes
    expected = eks(
        '[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers","value":[{"name":"balajilovesoreos","image":"amazonlinux","env":[{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111122223333:role/s3-reader"},{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],"resources":{},"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]'
    )
    assert patch_for(pod(), {piw.ROLE_ARN: ROLE}) == expected


def test_irsa_pod_with_volumes_and_region_and_init_containers() -> None:
    # rawPodWithVolumes: the token volume goes first
    found = patch_for(pod(volumes=[{"name": "my-volume"}]), {piw.ROLE_ARN: ROLE})
    assert found is not None and found[0]["path"] == "/spec/volumes/0"
    # rawPodWithInitContainer: init containers (a sidecar too) get the same, after the region
    init = [
        {"image": "amazonlinux", "name": "initcontainer"},
        {"image": "amazonlinux", "name": "sidecar", "restartPolicy": "Always"},
    ]
    found = patch_for(pod(initContainers=init), {piw.ROLE_ARN: ROLE}, region="seattle")
    assert found is not None
    [init_op] = [op for op in found if op["path"] == "/spec/initContainers"]
    names = [[e["name"] for e in c["env"]] for c in init_op["value"]]
    assert (
        names
        == [["AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]] * 2
    )
    assert init_op["value"][1]["restartPolicy"] == "Always"


def test_skipped_and_already_defined() -> None:  # rawPodSkip
    p = pod(
        {"image": "amazonlinux", "name": "sidecar"},
        {
            "image": "amazonlinux",
            "name": "balajilovesoreos",
            "env": [{"name": "AWS_ROLE_ARN", "value": "already-defined"}],
        },
        annotations={piw.SKIP_CONTAINERS: "sidecar"},
    )
    expected = eks(
        '[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers","value":[{"name":"sidecar","image":"amazonlinux","resources":{}},{"name":"balajilovesoreos","image":"amazonlinux","env":[{"name":"AWS_ROLE_ARN","value":"already-defined"},{"name":"AWS_DEFAULT_REGION","value":"us-west-2"},{"name":"AWS_REGION","value":"us-west-2"}],"resources":{},"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]'
    )
    assert patch_for(p, {piw.ROLE_ARN: ROLE}, region="us-west-2") == expected


def test_everything_set_already_changes_nothing() -> None:  # rawPodHasAll
    env = [
        {"name": "AWS_REGION", "value": "cn-northwest-1"},
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        {"name": "AWS_ROLE_ARN", "value": "arn:aws-cn:iam::111122223333:role/s3-reader"},
    ]
    p = pod({"image": "amazonlinux", "name": "balajilovesoreos", "env": env})
    sa = {piw.ROLE_ARN: "arn:aws-cn:iam::111122223333:role/s3-reader", piw.TOKEN_EXPIRATION: "3600"}
    settings = piw.WebhookSettings(region="cn-north-1", credentials_uri=AGENT)
    config = piw.patch_config(p, sa, False, settings, no_jitter)
    assert config is not None
    patch, changed = piw.pod_patch(p, config, "cn-north-1")
    assert patch[1] == {"op": "add", "path": "/spec/containers", "value": p["spec"]["containers"]}
    assert (
        patch[0]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"]
        == 3600
    )
    assert changed  # the volume is new


@pytest.mark.parametrize(("annotation", "seconds"), [("3600", 3600), ("0", 600), ("x", 86400)])
def test_token_expiration_of_the_pod(annotation: str, seconds: int) -> None:
    # rawPodHasTokenExpiration, rawPodMinTokenExpiration; an unreadable value is the default
    p = pod(annotations={piw.TOKEN_EXPIRATION: annotation})
    found = patch_for(p, {piw.ROLE_ARN: ROLE, piw.TOKEN_EXPIRATION: "7200"})
    assert found is not None
    token = found[0]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == (7200 if annotation == "x" else seconds)


def test_audience_and_regional_annotations_and_windows() -> None:
    sa = {piw.ROLE_ARN: ROLE, piw.AUDIENCE: "my-aud", piw.REGIONAL_STS: "false"}
    found = patch_for(pod(nodeSelector={"kubernetes.io/os": "windows"}), sa, regional=True)
    assert found is not None
    token = found[0]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "my-aud"
    env = {e["name"]: e["value"] for e in found[1]["value"][0]["env"]}
    assert "AWS_STS_REGIONAL_ENDPOINTS" not in env
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "C:" + TOKEN.replace("/", "\\")
    found = patch_for(pod(), {piw.ROLE_ARN: ROLE}, regional=True)
    assert found is not None
    assert found[1]["value"][0]["env"][0] == {
        "name": "AWS_STS_REGIONAL_ENDPOINTS",
        "value": "regional",
    }


def test_no_role_no_association_no_mutation() -> None:
    assert patch_for(pod(), {}) is None
    assert patch_for(pod(), None) is None
    assert patch_for(pod(), {piw.AUDIENCE: "sts.amazonaws.com"}) is None


def test_pod_identity_takes_precedence_over_the_role() -> None:  # rawPodWithRoleArn
    sa = {piw.ROLE_ARN: ROLE, piw.REGIONAL_STS: "true", piw.TOKEN_EXPIRATION: "10000"}
    found = patch_for(pod(), sa, associated=True)
    expected = [
        {
            "op": "add",
            "path": "/metadata/labels",
            "value": {"eks.amazonaws.com/pod-identity": "enabled"},
        },
        {
            "op": "add",
            "path": "/spec/volumes",
            "value": [
                {
                    "name": "eks-pod-identity-token",
                    "projected": {
                        "sources": [
                            {
                                "serviceAccountToken": {
                                    "audience": "pods.eks.amazonaws.com",
                                    "expirationSeconds": 10000,
                                    "path": "eks-pod-identity-token",
                                }
                            }
                        ]
                    },
                }
            ],
        },
        {
            "op": "add",
            "path": "/spec/containers",
            "value": [
                {
                    "image": "amazonlinux",
                    "name": "balajilovesoreos",
                    "env": [
                        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                        {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": AGENT},
                        {
                            "name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                            "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/"
                            "eks-pod-identity-token",
                        },
                    ],
                    "volumeMounts": [
                        {
                            "name": "eks-pod-identity-token",
                            "readOnly": True,
                            "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
                        }
                    ],
                }
            ],
        },
    ]
    assert found == expected


def test_pod_identity_default_expiration_gets_the_jitter_and_labels_merge() -> None:
    seen: list[tuple[int, int]] = []

    def jitter(lo: int, hi: int) -> int:
        seen.append((lo, hi))
        return 80000

    p = pod()
    p["metadata"]["labels"] = {"app": "x"}
    found = patch_for(p, {}, associated=True, jitter=jitter)
    assert seen == [(79200, 86400)]
    assert found is not None
    assert found[0] == {
        "op": "add",
        "path": "/metadata/labels/eks.amazonaws.com~1pod-identity",
        "value": "enabled",
    }
    token = found[1]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == 80000


def test_conflicting_volume_is_kept() -> None:  # rawPodWithConflictingVolumeMount
    mount = {"mountPath": "/some/other/path", "name": "eks-pod-identity-token", "readOnly": True}
    p = pod(
        {"image": "amazonlinux", "name": "balajilovesoreos", "volumeMounts": [mount]},
        volumes=[{"name": "eks-pod-identity-token", "hostPath": {"path": "token"}}],
    )
    found = patch_for(p, None, associated=True, jitter=lambda lo, hi: hi)
    assert found is not None
    assert [op["path"] for op in found] == ["/metadata/labels", "/spec/containers"]
    assert found[1]["value"][0]["volumeMounts"] == [mount]


def test_admission_response_and_configuration() -> None:
    review = {"apiVersion": "admission.k8s.io/v1", "request": {"uid": "u-1"}}
    patch = [{"op": "add", "path": "/spec/containers", "value": []}]
    answer = piw.admission_response(review, patch)
    assert answer["response"]["uid"] == "u-1" and answer["response"]["allowed"] is True
    assert answer["response"]["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(answer["response"]["patch"])) == patch
    assert "patch" not in piw.admission_response(review, None)["response"]
    config = piw.webhook_configuration("https://127.0.0.1:1/mutate/a/r/c", b"PEM")
    [hook] = config["webhooks"]
    assert hook["failurePolicy"] == "Ignore"  # as EKS's deploy/mutatingwebhook.yaml
    assert hook["clientConfig"] == {
        "url": "https://127.0.0.1:1/mutate/a/r/c",
        "caBundle": base64.b64encode(b"PEM").decode(),
    }
    assert hook["rules"][0]["operations"] == ["CREATE"] and hook["rules"][0]["resources"] == [
        "pods"
    ]
    assert hook["objectSelector"]["matchExpressions"][0]["key"] == piw.SKIP_LABEL
