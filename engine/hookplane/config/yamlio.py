"""Reading YAML fast, safely, and with positions for error messages.

The happy path uses libyaml's C parser and composer (``yaml.CSafeLoader``) with the garbage
collector paused, and a constructor that rejects duplicate keys and keeps timestamps as
strings (so every value stays JSON-safe). Positions are not tracked while loading: when an
error has to be reported, :class:`Positions` composes that one file again and walks the node
tree to the offending key or value.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Larger configuration files are refused before parsing (bounded memory and time)."""

MAX_EXPANDED_NODES = 2_000_000
"""A document whose aliases expand past this many values is refused (billion laughs)."""

MAX_DEPTH = 100
"""Deeper nesting than this is refused (each level costs several Python frames while
constructing, so the limit must stay well below the interpreter's recursion limit)."""


@dataclass(eq=False)
class YamlProblem(Exception):
    """A file that is not acceptable YAML; line and column are 1-based (0 = unknown).

    Not frozen: raising an exception through a ``@contextmanager`` (``gc_paused``) sets
    its ``__traceback__``, which a frozen dataclass refuses.
    """

    message: str
    line: int = 0
    column: int = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (2-3x faster construction of big documents)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Loader(yaml.CSafeLoader):
    """CSafeLoader that refuses duplicate keys, keeps timestamps as text, bounds depth."""

    _depth = 0

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        explicit = sum(
            1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge"
        )
        self.flatten_mapping(node)
        first_explicit = len(node.value) - explicit
        mapping: dict[Any, Any] = {}
        explicit_seen: dict[Any, yaml.Node] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if index >= first_explicit:
                if key in explicit_seen:
                    first = explicit_seen[key].start_mark
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key}' (first defined at line {first.line + 1}, "
                        f"column {first.column + 1}); a key may appear once per mapping",
                        key_node.start_mark,
                    )
                explicit_seen[key] = key_node
            mapping[key] = self._construct_nested(value_node)
        return mapping

    def _construct_nested(self, node: yaml.Node) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None, None, f"document nested deeper than {MAX_DEPTH} levels",
                    node.start_mark,
                )
            return self.construct_object(node, deep=True)
        finally:
            self._depth -= 1

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
        return [self._construct_nested(child) for child in node.value]

    def construct_yaml_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:  # type: ignore[override]
        yield self.construct_mapping(node)

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Iterator[list[Any]]:  # type: ignore[override]
        yield self.construct_sequence(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        return str(self.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_yaml_seq)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _expanded_size(root: yaml.Node) -> int:
    """Number of values the document holds once aliases are expanded (memoised per node)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if not done and id(node) in open_nodes:
            raise YamlProblem(
                "recursive alias: a node contains itself",
                node.start_mark.line + 1, node.start_mark.column + 1,
            )
        children: list[yaml.Node]
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[id(node)] = 1
            continue
        if done:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        else:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _indentation_hint(text: str, mark: Any) -> str:
    """For the parser's "did not find expected key" family: say which indentation the line
    could have (the columns of the keys above it), since that is nearly always the cause."""
    if mark is None or not text:
        return ""
    lines = text.splitlines()
    if not 0 <= mark.line < len(lines):
        return ""
    line = lines[mark.line]
    indent = len(line) - len(line.lstrip(" "))
    above = sorted({len(ln) - len(ln.lstrip(" ")) for ln in lines[:mark.line]
                    if ln.strip() and not ln.lstrip().startswith(("#", "-"))})
    if not above or indent in above:
        return " (check the indentation of this line and the one above)"
    shown = ", ".join(str(column) for column in above)
    return (f" (this line is indented {indent} spaces; keys above are at {shown}: a key must "
            "line up with the other keys of its mapping)")


def _problem_from(exc: yaml.YAMLError, text: str = "") -> YamlProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}, {problem}" if context else str(problem)
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        message = "tab character: YAML must be indented with spaces, not tabs"
    message = message.replace("could not determine a constructor for the tag",
                              "YAML tags that construct objects are not allowed:")
    if ("did not find expected key" in message or "mapping values are not allowed" in message
            or "expected <block end>" in message):
        message += _indentation_hint(text, mark)
    if mark is None:
        return YamlProblem(f"invalid YAML: {message}")
    return YamlProblem(f"invalid YAML: {message}", mark.line + 1, mark.column + 1)


def decode(data: bytes) -> str:
    """Decode a configuration file as UTF-8, pointing at the first bad byte."""
    if len(data) > MAX_FILE_BYTES:
        raise YamlProblem(
            f"file is {len(data):,} bytes; configuration files are limited to "
            f"{MAX_FILE_BYTES:,} bytes (split it into several files)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlProblem(
            f"file is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            line,
            column,
        ) from None
    return text.removeprefix("\ufeff")


def parse(text: str) -> Any:
    """Parse one YAML document safely. Raises :class:`YamlProblem` with a position."""
    try:
        with gc_paused():
            if "*" in text:  # aliases possible: bound their expansion before constructing
                loader = _Loader(text)
                try:
                    node = loader.get_single_node()
                    if node is None:
                        return None
                    if _expanded_size(node) > MAX_EXPANDED_NODES:
                        raise YamlProblem(
                            "document expands to too many values through aliases "
                            f"(more than {MAX_EXPANDED_NODES:,}); aliases like this are refused",
                            node.start_mark.line + 1,
                            node.start_mark.column + 1,
                        )
                    return loader.construct_document(node)
                finally:
                    loader.dispose()
            return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise _problem_from(exc, text) from None
    except RecursionError:
        raise YamlProblem(f"document nested deeper than {MAX_DEPTH} levels") from None


class Positions:
    """Finds the line and column of a key or value path in one file's text, on demand."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None
        self._composed = False

    def _node(self) -> yaml.Node | None:
        if not self._composed:
            self._composed = True
            try:
                self._root = yaml.compose(self._text, Loader=yaml.CSafeLoader)
            except yaml.YAMLError:
                self._root = None
        return self._root

    def find(self, path: tuple[Any, ...], *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``; of its key when ``key`` is true.

        Walks as far as the path exists and returns the deepest position found, so an
        error about a missing field points at the mapping that should hold it.
        """
        node = self._node()
        if node is None:
            return (1, 1)
        mark = node.start_mark
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                found = None
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        found = (key_node, value_node)
                if found is None:
                    break
                key_node, node = found
                mark = key_node.start_mark if (last and key) else node.start_mark
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return (mark.line + 1, mark.column + 1)
