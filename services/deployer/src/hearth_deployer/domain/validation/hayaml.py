"""Home Assistant's YAML dialect: parse a file, check its tags, report file:line:column.

Home Assistant extends YAML with ``!include`` and friends, ``!secret``, ``!env_var`` and
``!input``. This loader parses them without executing anything and records what each one
refers to, so the tree check can verify that included files and secret names exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from hearth_events.catalogue import ValidationIssue

INCLUDE_FILE = "!include"
INCLUDE_DIRS = (
    "!include_dir_list",
    "!include_dir_named",
    "!include_dir_merge_list",
    "!include_dir_merge_named",
)
SCALAR_TAGS = ("!secret", "!env_var", "!input", INCLUDE_FILE, *INCLUDE_DIRS)
#: libyaml's parser when PyYAML has it: several times faster, with the same line:column
#: marks (its wording of a problem differs a little from the pure-Python parser's).
BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class TagUse:
    tag: str
    value: str
    line: int
    column: int


@dataclass
class ParsedYaml:
    tags: list[TagUse] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)


class HomeAssistantLoader(BASE_LOADER):  # type: ignore[valid-type,misc]
    """A safe loader that knows Home Assistant's tags. One class for every file (making
    one per file was a tenth of a file's parse); what a file's parse records goes to the
    loader instance reading it (:func:`parse_ha_yaml`)."""

    def __init__(self, text: str, path: str, parsed: ParsedYaml) -> None:
        super().__init__(text)
        self.hearth_path = path
        self.hearth_parsed = parsed


def _construct_tag(loader: HomeAssistantLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.tag} takes a single value, not a list or mapping",
            node.start_mark,
        )
    value = str(loader.construct_scalar(node)).strip()
    if not value:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.tag} needs a value", node.start_mark
        )
    loader.hearth_parsed.tags.append(
        TagUse(node.tag, value, node.start_mark.line + 1, node.start_mark.column + 1)
    )
    return value


def _construct_mapping(loader: HomeAssistantLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        key = key_node.value
        if key in seen:
            loader.hearth_parsed.warnings.append(
                ValidationIssue(
                    path=loader.hearth_path,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    message=f"duplicate key {key!r} (first at line "
                    f"{seen[key].start_mark.line + 1}); the last one wins",
                )
            )
        seen[key] = key_node
    return dict(loader.construct_pairs(node))


for _tag in SCALAR_TAGS:
    HomeAssistantLoader.add_constructor(_tag, _construct_tag)
HomeAssistantLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def parse_ha_yaml(path: str, text: str) -> tuple[ParsedYaml, ValidationIssue | None]:
    """Parse ``text``; return what it refers to, and the first syntax error if any."""
    parsed = ParsedYaml()
    loader = HomeAssistantLoader(text, path, parsed)
    try:
        loader.get_single_data()  # what yaml.load does, with this file's loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        if "could not determine a constructor for the tag" in str(exc.problem):
            tag = str(exc.problem).rsplit(" ", 1)[-1].strip("'\"")
            problem = (
                f"unknown tag {tag}: Home Assistant knows !include, !include_dir_*, "
                "!secret, !env_var and !input"
            )
        return parsed, ValidationIssue(
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            message=problem,
        )
    except yaml.YAMLError as exc:
        return parsed, ValidationIssue(path=path, message=str(exc))
    finally:
        loader.dispose()
    return parsed, None
