"""The preflight's rules engine: rules are pure functions of :class:`Facts` (and the tables of
supported values) that return an :class:`Outcome`; :func:`run` turns each into a
:class:`Finding` and a :class:`Report` aggregates them.

A rule cites the statement of the founding document it enforces (``seed`` "R4"), states the
requirement in one sentence, and its outcome carries the evidence it judged and a fix. The rule
set is ``podwarden.logic.preflight_rules.RULES``; docs/preflight.md lists it.

Statuses: ``fail`` (the requirement is not met: CreateCluster/UpdateCluster are refused),
``warn`` (something to look at, or a fact that could not be read), ``pass``, ``skip`` (does
not apply to this request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from podwarden.logic.preflight_facts import Facts
from podwarden.policy.preflight import Tables

MAX_EVIDENCE = 8  # lines of evidence per finding; the rest is counted


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Outcome:
    status: Status
    evidence: tuple[str, ...]
    fix: str = ""


def passed(*evidence: str) -> Outcome:
    return Outcome(Status.PASS, tuple(evidence))


def skipped(*evidence: str) -> Outcome:
    return Outcome(Status.SKIP, tuple(evidence))


def failed(evidence: Iterable[str], fix: str) -> Outcome:
    return Outcome(Status.FAIL, _capped(evidence), fix)


def warned(evidence: Iterable[str], fix: str = "") -> Outcome:
    return Outcome(Status.WARN, _capped(evidence), fix)


def _capped(evidence: Iterable[str]) -> tuple[str, ...]:
    lines = list(evidence)
    if len(lines) > MAX_EVIDENCE:
        rest = len(lines) - MAX_EVIDENCE + 1
        lines = [*lines[: MAX_EVIDENCE - 1], f"and {rest} more"]
    return tuple(lines)


Check = Callable[[Facts, Tables], Outcome]


@dataclass(frozen=True)
class Rule:
    id: str
    seed: str  # the founding document's statements: "R4", "R7, R9"
    requirement: str  # one sentence, ending with a full stop
    check: Check = field(compare=False)


@dataclass(frozen=True)
class Finding:
    rule: str
    seed: str
    requirement: str
    status: Status
    evidence: tuple[str, ...]
    fix: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "seed": self.seed,
            "requirement": self.requirement,
            "status": str(self.status),
            "evidence": list(self.evidence),
            "fix": self.fix,
        }

    def text(self) -> str:
        """``<rule> (seed <R>): <evidence>.``, the form refusals and cluster events use."""
        return f"{self.rule} (seed {self.seed}): {'; '.join(self.evidence)}."


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    subject: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == Status.FAIL)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == Status.WARN)

    def summary(self) -> dict[str, int]:
        return {str(s): sum(1 for f in self.findings if f.status == s) for s in Status}

    def to_doc(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "subject": dict(self.subject),
            "summary": self.summary(),
            "findings": [f.to_doc() for f in self.findings],
        }

    def refusal(self) -> str:
        """The ValidationException message of a refused CreateCluster/UpdateCluster: every
        failed requirement with its evidence and fix (docs/preflight.md)."""
        failures = self.failures
        n = len(failures)
        head = f"HyperPod preflight failed: {n} requirement{'s' if n != 1 else ''} not met."
        parts = [head]
        for i, f in enumerate(failures, 1):
            parts.append(
                f"({i}) {f.rule} (seed {f.seed}): {f.requirement} "
                f"Evidence: {'; '.join(f.evidence)}. Fix: {f.fix}"
            )
        return " ".join(parts)

    def warning_texts(self) -> list[str]:
        """The warnings as recorded in the cluster's events: one line per warning, warnings
        with the same evidence (a live cluster not inspected yet) in one line."""
        by_evidence: dict[tuple[str, ...], list[Finding]] = {}
        for f in self.warnings:
            by_evidence.setdefault(f.evidence, []).append(f)
        return [
            f"Preflight warning: {listed(f'{f.rule} (seed {f.seed})' for f in same)}: "
            f"{'; '.join(evidence)}."
            for evidence, same in by_evidence.items()
        ]


def run(
    rules: Sequence[Rule], facts: Facts, tables: Tables, subject: Mapping[str, str] | None = None
) -> Report:
    findings = []
    for rule in rules:
        outcome = rule.check(facts, tables)
        findings.append(
            Finding(
                rule=rule.id,
                seed=rule.seed,
                requirement=rule.requirement,
                status=outcome.status,
                evidence=outcome.evidence,
                fix=outcome.fix,
            )
        )
    return Report(tuple(findings), dict(subject or {}))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def listed(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"
