"""Read a small YAML document from an untrusted file at bounded cost, or say in one line what is wrong.

PyYAML's ``safe_load`` is safe from code execution but not from cost or ambiguity: aliases expand
without bound (a 457-byte "billion laughs" file exhausts memory), deep nesting overflows the
recursive composer, duplicate keys silently keep the last value, and bytes it cannot read raise
tracebacks. Each check here runs before the next, more expensive stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser where PyYAML was built with it (its wheels are): the same events and nodes, about ten
# times faster. Every Dagster process that loads the code location reads jobs.yaml.
_LIBYAML: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)

# Anything outside YAML's printable set, and C1 controls, except tab, CR and LF.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


class YamlInputError(ValueError):
    """One problem; ``path`` holds the mapping keys leading to it, when known."""

    def __init__(self, message: str, path: tuple[Any, ...] = ()):
        self.path = path
        super().__init__(message)


class _NotYaml(YamlInputError):
    """The parser's own error, not one of our checks."""


@dataclass(frozen=True)
class YamlLimits:
    max_bytes: int = 1024 * 1024
    max_depth: int = 16
    # Bounds the node tree built next (a 1 MiB flow list of one-digit items would be 500,000 nodes).
    max_nodes: int = 100_000


class StrictYamlReader:
    def __init__(self, limits: YamlLimits = YamlLimits()):
        self.limits = limits

    def read(self, path: Path) -> Any:
        text = self._text(path)
        if _LIBYAML is not None:
            try:
                return self._load(text, _LIBYAML)
            except _NotYaml:
                pass  # said again by the pure-Python parser, which points at where the problem starts
        return self._load(text, yaml.SafeLoader)

    def _load(self, text: str, loader_class: type[yaml.SafeLoader]) -> Any:
        self._check_events(text, loader_class)
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_duplicate_keys(node)
            return loader.construct_document(node)
        except YamlInputError:
            raise
        except yaml.MarkedYAMLError as exc:
            raise _NotYaml(f"not valid YAML{_where(exc.problem_mark)}: {_shorten(str(exc.problem))}") from None
        except ValueError as exc:  # e.g. an integer longer than Python's int-from-string limit
            raise _NotYaml(f"not valid YAML: {_shorten(str(exc))}") from None
        finally:
            loader.dispose()

    def _text(self, path: Path) -> str:
        try:
            with path.open("rb") as stream:
                data = stream.read(self.limits.max_bytes + 1)  # never more than the cap, whatever the file
        except FileNotFoundError:
            raise YamlInputError("file not found") from None
        except IsADirectoryError:
            raise YamlInputError("is a directory, not a YAML file") from None
        except OSError as exc:
            raise YamlInputError(f"cannot read: {exc.strerror or exc}") from None
        if len(data) > self.limits.max_bytes:
            raise YamlInputError(f"larger than {self.limits.max_bytes} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise YamlInputError(f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line}") from None
        bad = _CONTROL.search(text)
        if bad:
            line = text.count("\n", 0, bad.start()) + 1
            column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
            raise YamlInputError(f"control character {bad.group()!r} at line {line}, column {column}")
        return text

    def _check_events(self, text: str, loader_class: type[yaml.SafeLoader]) -> None:
        """Reject aliases, anchors and deep nesting from the parser's events, before building anything."""
        depth = 0
        try:
            for count, event in enumerate(yaml.parse(text, Loader=loader_class)):
                if count > self.limits.max_nodes:
                    raise YamlInputError(f"more than {self.limits.max_nodes} YAML values{_where(event.start_mark)}")
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                    raise YamlInputError(f"YAML anchors and aliases are not supported{_where(event.start_mark)}")
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > self.limits.max_depth:
                        raise YamlInputError(
                            f"nested deeper than {self.limits.max_depth} levels{_where(event.start_mark)}"
                        )
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
        except yaml.MarkedYAMLError as exc:
            raise _NotYaml(f"not valid YAML{_where(exc.problem_mark)}: {_shorten(str(exc.problem))}") from None
        except yaml.YAMLError as exc:
            raise _NotYaml(f"not valid YAML: {_shorten(str(exc))}") from None


def _check_duplicate_keys(root: yaml.Node) -> None:
    """A key set twice in one mapping would silently keep the last value: name it and both lines."""
    pending: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while pending:
        node, path = pending.pop()
        if isinstance(node, yaml.SequenceNode):
            pending += [(child, (*path, index)) for index, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                identity = (key_node.tag, key)  # "1" and 1 are different keys
                if key is not None and identity in seen:
                    raise YamlInputError(
                        f"set twice (lines {seen[identity]} and {key_node.start_mark.line + 1})", (*path, key)
                    )
                if key is not None:
                    seen[identity] = key_node.start_mark.line + 1
                pending.append((value_node, (*path, key)))


def _where(mark: yaml.Mark | None) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _shorten(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
