"""The preflight report: the refusal message CreateCluster returns, the warnings recorded as
cluster events, the JSON document, and the CLI's table and JSON output and exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
from rich.console import Console

from podwarden.checks import cli
from podwarden.logic.preflight import Finding, Report, Status, failed, warned
from podwarden.logic.preflight_facts import EksCluster, Unknown
from podwarden.logic.preflight_rules import RULES, evaluate
from podwarden.policy.preflight import load_tables
from tests.unit.test_kube_snapshot import calico
from tests.unit.test_preflight_rules import good, live

TABLES = load_tables()


def broken_report() -> Report:
    facts = good()
    assert isinstance(facts.eks, EksCluster)
    facts = dataclasses.replace(
        facts,
        eks=dataclasses.replace(facts.eks, authentication_mode="CONFIG_MAP"),
        kube=live(calico()),
    )
    return evaluate(facts, TABLES)


def test_refusal_names_each_failed_requirement_with_evidence_and_fix() -> None:
    report = broken_report()
    assert not report.ok
    assert [f.rule for f in report.failures] == [
        "authentication-mode",
        "single-cni",
        "access-entries",
    ]
    assert report.refusal() == (
        "HyperPod preflight failed: 3 requirements not met. "
        "(1) authentication-mode (seed R4): The EKS cluster's authentication mode is API or "
        "API_AND_CONFIG_MAP. Evidence: EKS cluster podwarden has authentication mode "
        "CONFIG_MAP; HyperPod needs API or API_AND_CONFIG_MAP. Fix: aws eks "
        "update-cluster-config --name podwarden --access-config "
        "authenticationMode=API_AND_CONFIG_MAP (the mode moves forward only: CONFIG_MAP -> "
        "API_AND_CONFIG_MAP -> API). "
        "(2) single-cni (seed R5): No CNI other than the Amazon VPC CNI runs in the cluster. "
        "Evidence: another CNI runs in the cluster: DaemonSet calico-system/calico-node "
        "(Calico). Fix: Remove the other CNI (its DaemonSet, and its config in /etc/cni/net.d "
        "on the nodes): the Amazon VPC CNI is the only CNI HyperPod supports. "
        "(3) access-entries (seed R4, R7): HyperPod can create the access entries its service "
        "identity and nodes need. Evidence: EKS cluster podwarden has authentication mode "
        "CONFIG_MAP: it refuses access entries, so HyperPod cannot grant its service identity "
        "and its nodes access to the cluster. Fix: Switch EKS cluster podwarden to "
        "API_AND_CONFIG_MAP or API (aws eks update-cluster-config --access-config "
        "authenticationMode=API_AND_CONFIG_MAP)."
    )


def test_one_failure_is_singular() -> None:
    report = Report((Finding("r", "R1", "Requirement.", Status.FAIL, ("it is so",), "Do this."),))
    assert report.refusal() == (
        "HyperPod preflight failed: 1 requirement not met. (1) r (seed R1): Requirement. "
        "Evidence: it is so. Fix: Do this."
    )


def test_warnings_with_the_same_evidence_make_one_event() -> None:
    facts = dataclasses.replace(good(), kube=Unknown("the EKS reconciler has not observed it yet"))
    texts = evaluate(facts, TABLES).warning_texts()
    assert texts == [
        "Preflight warning: single-cni (seed R5), health-agent (seed R16, R17), "
        "workload-instance-type-labels (seed R11), hostpath-volumes (seed R10), pods-per-node "
        "(seed R12), workload-aws-credentials (seed R13): live cluster not inspected (the EKS "
        "reconciler has not observed it yet)."
    ]


def test_document() -> None:
    doc = broken_report().to_doc()
    assert doc["ok"] is False
    assert doc["summary"] == {"pass": 19, "warn": 0, "fail": 3, "skip": 1}
    assert sum(doc["summary"].values()) == len(doc["findings"]) == 23
    first = doc["findings"][0]
    assert set(first) == {"rule", "seed", "requirement", "status", "evidence", "fix"}
    assert json.loads(json.dumps(doc)) == doc


def test_evidence_is_capped() -> None:
    outcome = failed([f"line {i}" for i in range(20)], "fix")
    assert len(outcome.evidence) == 8
    assert outcome.evidence[-1] == "and 13 more"
    assert warned(["a"]).evidence == ("a",)


def test_table_output() -> None:
    console = Console(record=True, width=220, color_system="truecolor")
    cli.render(broken_report(), console)
    styled = console.export_text(styles=True, clear=False)
    assert "\x1b[1;31mFAIL" in styled and "\x1b[1;32mPASS" in styled  # red and green
    text = console.export_text()
    assert "HyperPod preflight: account 000000000000, region us-west-2, cluster hp" in text
    for needle in ("FAIL", "PASS", "skip", "authentication-mode", "single-cni", "R16, R17"):
        assert needle in text
    assert "3 requirement(s) not met" in text


def _args(**given: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([])
    for k, v in given.items():
        setattr(args, k, v)
    return args


def test_main_prints_json_and_exits_non_zero_on_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "check", lambda args: broken_report())
    console = Console(record=True, width=100)
    assert cli.main(_args(output="json"), console) == 1
    doc = json.loads(console.export_text())
    assert doc["ok"] is False
    monkeypatch.setattr(cli, "check", lambda args: evaluate(good(), TABLES))
    console = Console(record=True, width=200)
    assert cli.main(_args(), console) == 0
    assert "every requirement met" in console.export_text()


def test_request_input_forms(tmp_path: Path) -> None:
    path = tmp_path / "req.json"
    path.write_text('{"ClusterName": "hp"}')
    assert cli.load_request(f"file://{path}") == {"ClusterName": "hp"}
    assert cli.load_request(str(path)) == {"ClusterName": "hp"}
    assert cli.load_request(' {"ClusterName": "x"}') == {"ClusterName": "x"}
    for bad in ("[1]", "{nope", str(tmp_path / "missing.json")):
        with pytest.raises(cli.InputError):
            cli.load_request(bad)


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args()) == 2  # neither a request nor --eks-cluster
    assert "give --cli-input-json" in capsys.readouterr().err
    assert cli.main(_args(cli_input_json="/no/such/file.json")) == 2


def test_without_kubeconfig_the_live_cluster_is_not_inspected(tmp_path: Path) -> None:
    assert cli.inspect(None) == Unknown(cli.NO_KUBECONFIG)
    broken = tmp_path / "kubeconfig"
    broken.write_text("not: a kubeconfig")
    found = cli.inspect(broken)
    assert isinstance(found, Unknown)
    assert found.reason.startswith(f"could not read the cluster through {broken}")


def test_docs_list_every_rule_with_its_seed_and_requirement() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "preflight.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.seed} | {rule.requirement} |" in docs, rule.id
