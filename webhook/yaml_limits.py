"""A YAML stream held to webhook.limits before any of it is built.

PyYAML builds nodes and objects by recursion, and builds an alias as a second reference to its
anchor's object, so a billion-laughs document costs nothing to load and everything to walk,
copy or convert afterwards; an alias inside its own anchor even builds a cycle. libyaml's
parser, by contrast, is a loop that hands out one event at a time. ``check_yaml_stream`` reads
those events alone and refuses, with the document index and line, a stream that nests deeper
than MAX_NESTING_DEPTH (aliases counted as expanded), expands aliases into more than
MAX_ALIAS_NODES nodes in one document (go-yaml's bound), holds an alias to an anchor still
open (a cycle), a scalar longer than MAX_STRING_LENGTH, or more than MAX_DOCUMENTS documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from webhook.limits import (
    MAX_ALIAS_NODES,
    MAX_DOCUMENTS,
    MAX_NESTING_DEPTH,
    MAX_STRING_LENGTH,
    LimitExceeded,
)


class StreamLimitExceeded(LimitExceeded):
    """A limit exceeded in document ``index`` (0-based) at ``line`` (1-based)."""

    def __init__(self, limit: str, value: int, message: str, index: int, line: int) -> None:
        super().__init__(limit, value, message)
        self.index = index
        self.line = line


@dataclass
class _Open:
    """A collection whose end event has not come yet."""

    anchor: str | None
    nodes: int = 1
    child_depth: int = 0


@dataclass
class StreamShape:
    """What the events said: the documents (by index) whose aliases must be expanded into copies."""

    documents: int = 0
    aliased: set[int] = field(default_factory=set)


def check_yaml_stream(loader_class: Any, text: str) -> StreamShape:
    """Check ``text`` with a fresh ``loader_class``. A YAML syntax error ends the check quietly:
    everything before it has been checked, and building the documents stops at it too, with the
    composer's own message and the document's index."""
    loader = loader_class(text)
    shape = StreamShape()
    index = -1
    open_: list[_Open] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth) of a finished node
    alias_nodes = 0

    def fail(limit: str, value: int, message: str, event: Any) -> StreamLimitExceeded:
        return StreamLimitExceeded(limit, value, message, max(index, 0), event.start_mark.line + 1)

    def finished(nodes: int, depth: int, anchor: str | None) -> None:
        if anchor is not None:
            anchors[anchor] = (nodes, depth)
        if open_:
            parent = open_[-1]
            parent.nodes += nodes
            parent.child_depth = max(parent.child_depth, depth)

    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                index += 1
                if index >= MAX_DOCUMENTS:
                    raise fail("MAX_DOCUMENTS", MAX_DOCUMENTS,
                               f"more than {MAX_DOCUMENTS:,} documents in one file or stream (MAX_DOCUMENTS)", event)
                anchors, alias_nodes = {}, 0
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(open_) + 1 > MAX_NESTING_DEPTH:
                    raise fail("MAX_NESTING_DEPTH", MAX_NESTING_DEPTH,
                               f"nests mappings and sequences deeper than {MAX_NESTING_DEPTH} levels "
                               "(MAX_NESTING_DEPTH)", event)
                open_.append(_Open(event.anchor))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = open_.pop()
                finished(done.nodes, done.child_depth + 1, done.anchor)
            elif isinstance(event, yaml.ScalarEvent):
                if len(event.value) > MAX_STRING_LENGTH:
                    raise fail("MAX_STRING_LENGTH", MAX_STRING_LENGTH,
                               f"a scalar of {len(event.value):,} characters is longer than the limit of "
                               f"{MAX_STRING_LENGTH:,} (MAX_STRING_LENGTH)", event)
                finished(1, 0, event.anchor)
            elif isinstance(event, yaml.AliasEvent):
                if any(frame.anchor == event.anchor for frame in open_):
                    raise fail("YAML", 0, f"alias *{event.anchor} is inside its own anchor &{event.anchor}: "
                               "it would expand forever", event)
                if event.anchor not in anchors:
                    continue  # the composer reports the undefined alias, with its position
                nodes, depth = anchors[event.anchor]
                alias_nodes += nodes
                shape.aliased.add(index)
                if alias_nodes > MAX_ALIAS_NODES:
                    raise fail("MAX_ALIAS_NODES", MAX_ALIAS_NODES,
                               f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes in one document "
                               "(MAX_ALIAS_NODES; a 'billion laughs' document?)", event)
                if len(open_) + depth > MAX_NESTING_DEPTH:
                    raise fail("MAX_NESTING_DEPTH", MAX_NESTING_DEPTH,
                               f"alias *{event.anchor} expands to nesting deeper than {MAX_NESTING_DEPTH} "
                               "levels (MAX_NESTING_DEPTH)", event)
                finished(nodes, depth, None)
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    shape.documents = index + 1
    return shape
