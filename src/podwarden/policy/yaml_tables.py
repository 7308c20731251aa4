"""What the loaders of the packaged YAML tables (``tables/*.yaml``) share.

:class:`TableError` is the one error a table that breaks its schema raises; the message says
where. Two styles of pointing there: :class:`KeyLines` names the file and the line of the
offending key (the instance catalog, the AWS-managed policies), :func:`fail` names the file and
the entry (the EKS catalogs, the preflight table).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from importlib import resources
from typing import Any, NoReturn, TypeGuard

import yaml


class TableError(ValueError):
    """A shipped table breaks its schema. Raised at load time; the message says where."""


def packaged(table: str) -> tuple[str, str]:
    """The text of the packaged ``tables/<table>`` and the name error messages give it."""
    text = resources.files("podwarden.policy").joinpath("tables", table).read_text("utf-8")
    return text, f"podwarden/policy/tables/{table}"


def load_yaml(text: str, source: str) -> object:
    """The document in ``text``; invalid YAML is a :class:`TableError` naming ``source``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from None


def exact_keys(text: str, source: str, keys: AbstractSet[str]) -> dict[str, Any]:
    """The document of a table that is one mapping with exactly ``keys`` (the quotas, the
    remediation limits, the zones), else a :class:`TableError` naming ``source``."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or set(data) != keys:
        raise TableError(f"{source}: expected exactly the keys {', '.join(sorted(keys))}")
    return data


def compose_yaml(text: str, source: str) -> tuple[yaml.Node | None, object]:
    """The node tree (for :class:`KeyLines`) and the document of ``text``; invalid YAML is a
    :class:`TableError` naming ``source``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return node, data


class KeyLines:
    """Line numbers of mapping keys by path, and the duplicate-key check PyYAML does not make
    (a key twice in one mapping). Entries are ``section.<entry>.<field>``; ``noun`` names an
    entry in messages."""

    def __init__(self, source: str, section: str, noun: str) -> None:
        self.source = source
        self.section = section
        self.noun = noun
        self.lines: dict[tuple[str, ...], int] = {}

    def scan(self, node: yaml.Node | None, path: tuple[str, ...] = ()) -> None:
        """Record the line of every key below ``node`` (the first, where list items repeat a
        path); raise on a key repeated in one mapping."""
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.scan(item, path)
        if not isinstance(node, yaml.MappingNode):
            return
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise TableError(
                    f"{self.source}:{line}: duplicate key '{key}' (first at line {seen[key]})"
                )
            seen[key] = line
            here = (*path, key)
            self.lines.setdefault(here, line)
            self.scan(value_node, here)

    def fail(self, path: tuple[str, ...], problem: str) -> NoReturn:
        """Raise, pointing at the line of ``path`` or of its nearest enclosing key."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                raise TableError(f"{self.source}:{line}: {problem}")
        raise TableError(f"{self.source}: {problem}")

    def field(self, entry: str, name: str, problem: str) -> NoReturn:
        """Raise about field ``name`` of entry ``entry``, pointing at its line."""
        self.fail((self.section, entry, name), f"{self.noun} '{entry}', field '{name}': {problem}")

    def fields(
        self, entry: str, raw: object, required: AbstractSet[str], optional: AbstractSet[str]
    ) -> dict[str, Any]:
        """The fields of entry ``entry`` (``raw``): a mapping whose keys are all ``required`` or
        ``optional``, with every ``required`` one there."""
        if not isinstance(raw, dict):
            self.fail((self.section, entry), f"{self.noun} '{entry}': expected a mapping of fields")
        for key in sorted(map(str, set(raw) - required - optional)):
            self.field(entry, key, "unknown field")
        for key in sorted(required - set(raw)):
            self.field(entry, key, "missing required field")
        return raw


def fail(source: str, where: str, problem: str) -> NoReturn:
    """Raise, naming the table and the entry (``where``)."""
    raise TableError(f"{source}: {where}: {problem}")


def as_list(raw: object, source: str, where: str) -> list[Any]:
    if not isinstance(raw, list):
        fail(source, where, "expected a list")
    return raw


def is_int(value: object) -> TypeGuard[int]:
    """An integer, not a bool (YAML's true is Python's 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    """An integer or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)
