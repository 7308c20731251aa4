"""The EKS records' lifecycle (``logic.eks_lifecycle``): each transition of a cluster, add-on
or update document, on plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.logic import eks_lifecycle as lc

NOW = 1_700_000_000.0


def cluster(status: str = "CREATING") -> dict[str, Any]:
    return {
        "name": "c1",
        "status": status,
        "version": "1.32",
        "accessConfig": {"authenticationMode": "CONFIG_MAP"},
        "certificateAuthority": {},
        "_podwarden": {"kubernetes": "v1.32.9", "pending_update": None},
    }


def addon(status: str = "CREATING") -> dict[str, Any]:
    return {
        "addonName": "vpc-cni",
        "clusterName": "c1",
        "status": status,
        "addonVersion": "v1.18.2-eksbuild.1",
        "modifiedAt": 1.0,
        "_podwarden": {"pending_update": None, "preserve": False},
    }


# ---------------------------------------------------------------- clusters


def test_a_creating_cluster_turns_active_with_its_control_planes_facts() -> None:
    doc = cluster()
    lc.activate_cluster(
        doc,
        endpoint="https://127.0.0.1:16443",
        certificate_authority="Q0E=",
        kubernetes_version="v1.33.5",
    )
    assert doc["status"] == "ACTIVE"
    assert doc["endpoint"] == "https://127.0.0.1:16443"
    assert doc["certificateAuthority"] == {"data": "Q0E="}
    assert doc["version"] == "1.33"  # the minor, as DescribeCluster reports it
    assert doc["_podwarden"]["kubernetes"] == "v1.33.5"  # the exact release


@pytest.mark.parametrize(("given", "minor"), [("1.32.9", "1.32"), ("v1.32", "1.32")])
def test_activation_takes_versions_with_or_without_v_and_patch(given: str, minor: str) -> None:
    doc = cluster()
    lc.activate_cluster(doc, endpoint="e", certificate_authority="c", kubernetes_version=given)
    assert doc["version"] == minor


def test_activation_refuses_what_is_no_kubernetes_version_and_changes_nothing() -> None:
    doc = cluster()
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        lc.activate_cluster(doc, endpoint="e", certificate_authority="c", kubernetes_version="x")
    assert doc == cluster()


def test_a_cluster_whose_control_plane_cannot_start_fails_with_the_reason_as_its_issue() -> None:
    doc = cluster()
    lc.fail_cluster(doc, "etcd would not start " + "x" * 2000)
    assert doc["status"] == "FAILED"
    [issue] = doc["health"]["issues"]
    assert issue["code"] == "InternalFailure"
    assert issue["resourceIds"] == ["c1"]
    assert issue["message"].startswith("etcd would not start ")
    assert len(issue["message"]) == 1000


def test_delete_cluster_marks_it_deleting() -> None:
    doc = cluster("ACTIVE")
    lc.begin_deletion(doc)
    assert doc["status"] == "DELETING"


# ---------------------------------------------------------------- add-ons


def test_an_addon_turns_active_once_its_workloads_run() -> None:
    doc = addon()
    lc.activate_addon(doc, NOW)
    assert (doc["status"], doc["modifiedAt"]) == ("ACTIVE", NOW)


def test_delete_addon_marks_it_deleting_and_records_preserve() -> None:
    doc = addon("ACTIVE")
    lc.begin_addon_deletion(doc, NOW, preserve=True)
    assert (doc["status"], doc["modifiedAt"]) == ("DELETING", NOW)
    assert doc["_podwarden"]["preserve"] is True


def test_an_addon_deleted_with_its_cluster_keeps_its_preserve() -> None:
    doc = addon("ACTIVE")
    doc["_podwarden"]["preserve"] = True
    lc.begin_addon_deletion(doc, NOW)
    assert doc["status"] == "DELETING"
    assert doc["_podwarden"]["preserve"] is True


# ---------------------------------------------------------------- updates


def test_a_new_update_is_in_progress_with_its_params_and_changes() -> None:
    changes = {"accessConfig.authenticationMode": "API_AND_CONFIG_MAP"}
    doc = lc.new_update(
        "u1", "AccessConfigUpdate", [("AuthenticationMode", "API_AND_CONFIG_MAP")], changes, NOW
    )
    assert doc["id"] == "u1"
    assert (doc["status"], doc["type"], doc["createdAt"]) == (
        "InProgress",
        "AccessConfigUpdate",
        NOW,
    )
    assert doc["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    assert doc["errors"] == []
    assert lc.pending_changes(doc) == changes
    assert lc.updated_addon(doc) is None


def test_an_addons_update_names_the_addon() -> None:
    doc = lc.new_update("u1", "AddonUpdate", [], {}, NOW, addon="vpc-cni")
    assert lc.updated_addon(doc) == "vpc-cni"


def test_starting_an_update_makes_the_target_updating_with_the_update_pending() -> None:
    doc = cluster("ACTIVE")
    assert lc.pending_update(doc) is None
    lc.start_update(doc, "u1")
    assert doc["status"] == "UPDATING"
    assert lc.pending_update(doc) == "u1"


def test_pending_update_of_a_doc_without_private_state_is_none() -> None:
    assert lc.pending_update({"status": "ACTIVE"}) is None


def test_finishing_an_update_applies_its_changes_and_settles_the_cluster() -> None:
    doc = cluster("ACTIVE")
    changes: dict[str, Any] = {
        "accessConfig.authenticationMode": "API_AND_CONFIG_MAP",
        "_podwarden.kubernetes": "v1.33.5",
        "logging.clusterLogging": [{"types": ["api"], "enabled": True}],
    }
    update = lc.new_update("u1", "AccessConfigUpdate", [], changes, NOW)
    lc.start_update(doc, "u1")
    lc.finish_update(doc, update, NOW)
    assert update["status"] == "Successful"
    assert doc["status"] == "ACTIVE"
    assert lc.pending_update(doc) is None
    assert doc["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert doc["_podwarden"]["kubernetes"] == "v1.33.5"
    assert doc["logging"] == {"clusterLogging": [{"types": ["api"], "enabled": True}]}
    assert "modifiedAt" not in doc  # a Cluster has no modifiedAt
    # the target holds copies: the update's record is not shared with it
    changes["logging.clusterLogging"][0]["types"].append("audit")
    assert doc["logging"]["clusterLogging"][0]["types"] == ["api"]


def test_finishing_an_addons_update_sets_its_version_and_modified_time() -> None:
    doc = addon("ACTIVE")
    update = lc.new_update("u1", "AddonUpdate", [], {"addonVersion": "v1.19.0"}, NOW, addon="x")
    lc.start_update(doc, "u1")
    lc.finish_update(doc, update, NOW)
    assert (doc["status"], doc["addonVersion"], doc["modifiedAt"]) == ("ACTIVE", "v1.19.0", NOW)
    assert lc.pending_update(doc) is None


def test_a_failed_update_records_its_error_and_the_cluster_is_active_again() -> None:
    doc = cluster("ACTIVE")
    update = lc.new_update("u1", "VersionUpdate", [], {"version": "1.33"}, NOW)
    lc.start_update(doc, "u1")
    lc.fail_update(doc, update, NOW, "Unknown", "boom")
    assert update["status"] == "Failed"
    assert update["errors"] == [{"errorCode": "Unknown", "errorMessage": "boom", "resourceIds": []}]
    assert (doc["status"], doc["version"]) == ("ACTIVE", "1.32")  # nothing applied
    assert lc.pending_update(doc) is None


def test_a_failed_addon_update_leaves_the_addon_update_failed() -> None:
    doc = addon("ACTIVE")
    update = lc.new_update("u1", "AddonUpdate", [], {"addonVersion": "v9"}, NOW, addon="x")
    lc.start_update(doc, "u1")
    lc.fail_update(doc, update, NOW, "ConfigurationConflict", "conflict")
    assert (doc["status"], doc["modifiedAt"]) == ("UPDATE_FAILED", NOW)
    assert doc["addonVersion"] == "v1.18.2-eksbuild.1"
    assert lc.pending_update(doc) is None


def test_forgetting_a_vanished_update_clears_the_pending_one_only() -> None:
    doc = cluster("UPDATING")
    doc["_podwarden"]["pending_update"] = "u1"
    lc.forget_update(doc)
    assert lc.pending_update(doc) is None
    assert doc["status"] == "UPDATING"
