"""YAML read with bounded work: the tasks and config files are input from outside.

``yaml.safe_load`` runs no code, but a few hundred bytes of nested aliases (an alias
bomb) stand for billions of nodes, a deep nesting exhausts the recursion limit, and a
long number is slow to convert. Before anything is built, one pass over the parser's
events checks the limits below; the document is then built by the same safe loader
(libyaml's ``CSafeLoader`` when it is installed). Every error carries the place it was
found, for ``file:line:column``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)
from yaml.nodes import Node, ScalarNode

#: Largest file read, in bytes.
MAX_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 64
#: Most aliases (``*name``) in a document.
MAX_ALIASES = 100
#: Most nodes in a document, each alias counted as the nodes it stands for.
MAX_NODES = 100_000
#: Longest number, in characters (converting a long one is slow).
MAX_NUMBER_CHARS = 100

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class YamlLimitError(yaml.MarkedYAMLError):
    """A document goes past one of this module's limits; the message names it."""


class _Checked:
    """Mixed into a safe loader: a value that cannot be converted is an error at its place."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """The value of ``node``; long numbers and failed conversions are YAML errors."""
        if (
            isinstance(node, ScalarNode)
            and node.tag in _NUMBER_TAGS
            and len(node.value) > MAX_NUMBER_CHARS
        ):
            raise YamlLimitError(
                problem=f"over the number length limit: a number longer than "
                f"{MAX_NUMBER_CHARS} characters",
                problem_mark=node.start_mark,
            )
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, OverflowError) as exc:  # int("9"*5000), a 13th month...
            raise ConstructorError(
                problem=f"cannot read this value ({exc})", problem_mark=node.start_mark
            ) from exc


class PureLoader(_Checked, yaml.SafeLoader):
    """PyYAML's own safe loader, checked."""


#: libyaml's safe loader when it is installed (much faster), else :class:`PureLoader`.
Loader: type[Any] = (
    type("Loader", (_Checked, yaml.CSafeLoader), {}) if yaml.__with_libyaml__ else PureLoader
)


def load(text: str, loader: type[Any] | None = None) -> Any:
    """The one document in ``text``; :class:`yaml.YAMLError` when it is invalid or past a
    limit (:class:`YamlLimitError`). ``loader`` defaults to :data:`Loader`."""
    loader = loader or Loader
    _check_limits(loader(text))
    built = loader(text)
    try:
        return built.get_single_data()
    finally:
        built.dispose()


def _check_limits(loader: Any) -> None:
    """Walk the events once, counting depth, aliases and nodes (aliases expanded)."""
    try:
        count = _Count()
        while loader.check_event():
            count.add(loader.get_event())
    finally:
        loader.dispose()


class _Count:
    """The running counts of one pass over a stream's events."""

    def __init__(self) -> None:
        #: per open collection: its anchor, and the node count when it started
        self.open: list[tuple[str | None, int]] = []
        #: anchor -> how many nodes it stands for
        self.sizes: dict[str, int] = {}
        self.nodes = 0
        self.aliases = 0

    def add(self, event: Any) -> None:
        """Count one event; :class:`YamlLimitError` past a limit."""
        if isinstance(event, DocumentStartEvent):
            self.sizes.clear()  # anchors belong to their document
        elif isinstance(event, AliasEvent):
            self._alias(event)
        elif isinstance(event, ScalarEvent):
            self.nodes += 1
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
        elif isinstance(event, CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                _limit(event, f"over the depth limit: nested more than {MAX_DEPTH} levels")
            self.open.append((event.anchor, self.nodes))
            self.nodes += 1
        elif isinstance(event, CollectionEndEvent):
            anchor, started = self.open.pop()
            if anchor is not None:
                self.sizes[anchor] = self.nodes - started
        if self.nodes > MAX_NODES:
            _limit(
                event,
                f"over the node limit: more than {MAX_NODES:,} nodes, counting each "
                "alias as the nodes it stands for",
            )

    def _alias(self, event: AliasEvent) -> None:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            _limit(event, f"over the alias limit: more than {MAX_ALIASES} aliases")
        size = self.sizes.get(event.anchor or "")
        if size is None:
            recursive = any(anchor == event.anchor for anchor, _ in self.open)
            what = "a recursive" if recursive else "an undefined"
            _limit(event, f"found {what} alias {event.anchor!r}", ConstructorError)
        self.nodes += size


def _limit(
    event: Any, problem: str, error: type[yaml.MarkedYAMLError] = YamlLimitError
) -> NoReturn:
    raise error(problem=problem, problem_mark=event.start_mark)
