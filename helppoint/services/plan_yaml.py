"""Trigger plans as YAML files: read with a line number for every problem, and write.

Plain scalars are read strictly (YAML 1.2 core style): `true`/`false`, whole and decimal
numbers and `null`; everything else is text. So `20:00` stays a time rather than PyYAML's
sexagesimal 1200, and `no` stays text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from helppoint.domain.plans import (
    Locate,
    PlanInvalid,
    PlanProblem,
    TriggerPlan,
    build_plan,
    plan_document,
)

#: Largest plan file accepted (bytes).
MAX_PLAN_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists accepted (a plan needs about six levels).
MAX_PLAN_DEPTH = 20
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?[0-9]*\.[0-9]+$")

Path = tuple[str | int, ...]


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a plan file may not use."""


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while it builds the node tree.

    An alias (`*name`) makes the tree a graph: a cycle (`&a [*a]`) sent the reader into
    endless recursion, and an alias bomb (each level naming the previous one nine times)
    turned 321 bytes into a million nodes. A plan needs neither, so both are refused with
    their line before the reader sees them; the nesting bound keeps the (recursive) composer
    within Python's stack.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self._next_event()
            raise _Refused(
                problem=f"aliases (*{event.anchor}) are not allowed in a plan file; write the "
                "value out where it is needed",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_PLAN_DEPTH:
                raise _Refused(
                    problem=f"nested more than {MAX_PLAN_DEPTH} levels deep",
                    problem_mark=self._next_event().start_mark,
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def _next_event(self) -> Any:
        return self.peek_event()  # type: ignore[no-untyped-call]


class _Reader:
    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.problems: list[PlanProblem] = []

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.value(key_node, (*path, "?key"))
                if not isinstance(key, str):
                    self.problems.append(
                        PlanProblem(key_node.start_mark.line + 1, "", f"key {key!r} is not text")
                    )
                    continue
                if key in result:
                    self.problems.append(
                        PlanProblem(
                            key_node.start_mark.line + 1,
                            _dotted((*path, key)),
                            f"key {key!r} appears twice",
                        )
                    )
                    continue
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                result[key] = self.value(value_node, (*path, key))
                # Point at the key's line, which is where a reader looks for it.
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag not in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:null",
            "tag:yaml.org,2002:timestamp",
        ):
            self.problems.append(
                PlanProblem(node.start_mark.line + 1, _dotted(path), f"unsupported tag {node.tag}")
            )
            return None
        return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    text: str = node.value
    if node.style is not None:  # quoted or block: always text
        return text
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("", "~", "null"):
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def read_plan(text: str) -> TriggerPlan:
    """Parse and validate a YAML plan; PlanInvalid lists every problem with its line."""
    return read_plan_located(text)[0]


def read_plan_located(text: str) -> tuple[TriggerPlan, Locate]:
    """Like `read_plan`, also returning where each part of the plan is in the file."""
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        raise PlanInvalid(
            [PlanProblem(None, "", f"the file is larger than {MAX_PLAN_BYTES} bytes")]
        )
    try:
        documents = list(yaml.compose_all(text, Loader=_PlanLoader))
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise PlanInvalid([PlanProblem(line, "", str(exc.problem))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PlanInvalid([PlanProblem(line, "", f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise PlanInvalid([PlanProblem(None, "", f"not valid YAML: {exc}")]) from None
    documents = [
        d
        for d in documents
        if d is not None and not (isinstance(d, yaml.ScalarNode) and _scalar(d) is None)
    ]
    if not documents:
        raise PlanInvalid([PlanProblem(None, "", "the file is empty")])
    if len(documents) > 1:
        line = documents[1].start_mark.line + 1
        raise PlanInvalid([PlanProblem(line, "", "one plan per file (found a second document)")])
    reader = _Reader()
    data = reader.value(documents[0], ())
    if reader.problems:
        raise PlanInvalid(reader.problems)
    return build_plan(data, reader.lines.get), reader.lines.get


def dump_plan(plan: TriggerPlan) -> str:
    """A plan as YAML that `read_plan` reads back to the same plan."""
    header = (
        f"# helppoint trigger plan for {plan.scope.value} {plan.target_id}; see "
        "docs/trigger-plans.md\n"
    )
    body = yaml.safe_dump(
        plan_document(plan), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return header + body
