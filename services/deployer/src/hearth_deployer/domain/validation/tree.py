"""Check a whole configuration tree as it will be deployed.

Every YAML file is parsed in Home Assistant's dialect, every JSON file as JSON; includes
must name files or directories inside the tree (an absolute include is mapped through the
configuration roots, see ``includes``), ``!secret`` names must exist (see ``secrets``);
symlinks and special files are refused. Errors carry file:line:column so a person can fix them.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.validation.hayaml import (
    INCLUDE_DIRS,
    INCLUDE_FILE,
    TagUse,
    parse_ha_yaml,
)
from hearth_deployer.domain.validation.includes import (
    Candidate,
    Refused,
    describe,
    has_yaml_below,
    resolve,
    wildcard_hint,
)
from hearth_deployer.domain.validation.secrets import SECRETS_FILE, SecretNames, read_secret_names
from hearth_events.catalogue import ValidationIssue

__all__ = [
    "SECRETS_FILE",
    "ParsedFiles",
    "ScannedTree",
    "ValidationReport",
    "judge_tree",
    "scan_tree",
    "validate_tree",
]

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class _Tree:
    """What a tag may refer to: the files and directories being deployed, and secrets."""

    files: set[str]
    directories: set[str]
    secrets: SecretNames
    ignore: tuple[str, ...]
    config_roots: tuple[str, ...]
    repo_prefix: str


@dataclass
class ValidationReport:
    files: list[str] = field(default_factory=list)
    errors: list[ValidationIssue] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)
    #: Files of the tree left out by the ignore patterns: never validated nor deployed.
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ScannedFile:
    """One YAML or JSON file, parsed: its warnings, its first error, the tags it uses."""

    rel: str
    warnings: tuple[ValidationIssue, ...] = ()
    error: ValidationIssue | None = None
    tags: tuple[TagUse, ...] = ()


@dataclass(frozen=True)
class ScannedTree:
    """What validation reads from the tree alone, whatever target deploys it: the files,
    folders and ignored paths, what the walk refused, and every YAML and JSON file parsed.
    Parsing is nearly all the cost of validating; the judgement against a target's
    secrets and configuration roots (:func:`judge_tree`) is cheap."""

    files: tuple[str, ...]
    directories: frozenset[str]
    ignored: tuple[str, ...]
    refused: tuple[ValidationIssue, ...]
    parsed: tuple[ScannedFile, ...]

    @cached_property
    def absolute_includes(self) -> bool:
        """Whether any include names an absolute path: only such an include is judged
        against the target's configuration roots (see :func:`.includes.resolve`)."""
        return any(
            use.tag in _INCLUDE_TAGS and PurePosixPath(use.value).is_absolute()
            for file in self.parsed
            for use in file.tags
        )


_INCLUDE_TAGS = (INCLUDE_FILE, *INCLUDE_DIRS)


def validate_tree(
    root: Path,
    *,
    ignore: tuple[str, ...] = (),
    target_secret_names: set[str] | None = None,
    config_roots: tuple[str, ...] = (),
    repo_prefix: str = "",
) -> ValidationReport:
    """Validate the files under ``root`` that a deployment would write.

    ``target_secret_names`` are the keys of the target's own ``secrets.yaml``, used when the
    repository does not carry one; None means they are unknown (a warning, not an error).
    ``config_roots`` are the absolute folders Home Assistant may see this tree as (the
    target's ``remote_path``, ``/config``): an absolute include under one of them is checked
    in the tree. ``repo_prefix`` (the target's subdirectory) names mapped paths as they lie
    in the repository.
    """
    return judge_tree(
        root,
        scan_tree(root, ignore),
        ignore=ignore,
        target_secret_names=target_secret_names,
        config_roots=config_roots,
        repo_prefix=repo_prefix,
    )


class ParsedFiles:
    """YAML files parsed before, by path and text: a push changes a few files of a tree,
    and the others' parse is taken from here instead of made again. A file's parse
    depends on its path and text alone (:func:`parse_ha_yaml`). The most recently used
    are kept, up to ``max_bytes`` of text; safe to share between threads."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._kept: OrderedDict[tuple[str, str], ScannedFile] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        #: Files actually parsed, not taken from here (for tests and the benchmark).
        self.parsed = 0

    def get(self, rel: str, text: str) -> ScannedFile:
        key = (rel, text)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = _parse_text(rel, text)  # outside the lock: another thread may parse too
        with self._lock:
            self.parsed += 1
            if key not in self._kept:
                self._kept[key] = found
                self._bytes += len(rel) + len(text)
            while self._bytes > self._max_bytes and len(self._kept) > 1:
                (old_rel, old_text), _ = self._kept.popitem(last=False)
                self._bytes -= len(old_rel) + len(old_text)
        return found


def scan_tree(
    root: Path, ignore: tuple[str, ...] = (), parsed_before: ParsedFiles | None = None
) -> ScannedTree:
    """Walk the tree and parse every YAML and JSON file a deployment would write; a YAML
    file ``parsed_before`` holds with the same path and text is not parsed again."""
    walked = ValidationReport()
    directories = _walk(root, ignore, walked)
    parsed = []
    for rel in walked.files:
        if rel.endswith(YAML_SUFFIXES):
            parsed.append(_parse_yaml(root, rel, parsed_before))
        elif rel.endswith(".json"):
            parsed.append(ScannedFile(rel, error=_json_error(root, rel)))
    return ScannedTree(
        files=tuple(walked.files),
        directories=frozenset(directories),
        ignored=tuple(walked.ignored),
        refused=tuple(walked.errors),
        parsed=tuple(parsed),
    )


def judge_tree(
    root: Path,
    scanned: ScannedTree,
    *,
    ignore: tuple[str, ...] = (),
    target_secret_names: set[str] | None = None,
    config_roots: tuple[str, ...] = (),
    repo_prefix: str = "",
) -> ValidationReport:
    """The report of a scanned tree for one target: every tag checked against the tree,
    its secrets and the target's configuration roots (see :func:`validate_tree`)."""
    report = ValidationReport(
        files=list(scanned.files), errors=list(scanned.refused), ignored=list(scanned.ignored)
    )
    present = set(scanned.files)
    secrets, problems = read_secret_names(root, present, target_secret_names)
    report.errors.extend(problems)
    facts = _Tree(present, set(scanned.directories), secrets, ignore, config_roots, repo_prefix)
    for file in scanned.parsed:
        _judge_file(file, facts, report)
    return report


def _walk(root: Path, ignore: tuple[str, ...], report: ValidationReport) -> set[str]:
    directories: set[str] = set()
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(current)
        for name in sorted(dirnames):
            rel = (base / name).relative_to(root).as_posix()
            if (base / name).is_symlink():
                report.errors.append(_symlink(root, base / name, rel))
                dirnames.remove(name)
            elif name == ".git":
                dirnames.remove(name)
            elif is_ignored(rel, ignore):
                dirnames.remove(name)
                report.ignored.extend(_files_below(root, base / name))
            else:
                directories.add(rel)
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if is_ignored(rel, ignore):
                report.ignored.append(rel)
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                report.errors.append(_symlink(root, path, rel))
            elif not stat.S_ISREG(mode):
                report.errors.append(
                    ValidationIssue(path=rel, message="not a regular file (device, socket or pipe)")
                )
            else:
                report.files.append(rel)
    report.files.sort()
    report.ignored.sort()
    return directories


def _files_below(root: Path, folder: Path) -> list[str]:
    return [
        (Path(current) / name).relative_to(root).as_posix()
        for current, _, filenames in os.walk(folder, followlinks=False)
        for name in filenames
    ]


def _symlink(root: Path, path: Path, rel: str) -> ValidationIssue:
    target = os.readlink(path)
    return ValidationIssue(
        path=rel,
        message=f"symlinks are not deployed ({rel} -> {target}); commit the file itself",
    )


def _parse_yaml(root: Path, rel: str, parsed_before: ParsedFiles | None) -> ScannedFile:
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
        return ScannedFile(rel, error=ValidationIssue(path=rel, message=message))
    if parsed_before is not None:
        return parsed_before.get(rel, text)
    return _parse_text(rel, text)


def _parse_text(rel: str, text: str) -> ScannedFile:
    parsed, error = parse_ha_yaml(rel, text)
    return ScannedFile(rel, tuple(parsed.warnings), error, tuple(parsed.tags))


def _judge_file(file: ScannedFile, facts: _Tree, report: ValidationReport) -> None:
    rel = file.rel
    report.warnings.extend(file.warnings)
    if file.error is not None:
        report.errors.append(file.error)
        return
    for use in file.tags:
        issue = _check_tag(rel, use, facts)
        if issue is not None:
            (report.warnings if issue[0] == "warning" else report.errors).append(issue[1])
    if any(u.tag == "!secret" and facts.secrets.lookup(rel, u.value)[0] is None for u in file.tags):
        report.warnings.append(
            ValidationIssue(
                path=rel,
                message="!secret names could not be checked: the target's "
                "secrets.yaml was not available",
            )
        )


Found = tuple[str, ValidationIssue] | None


def _check_tag(rel: str, use: TagUse, facts: _Tree) -> Found:
    """("error" or "warning", the issue) when a tag names something that is not there."""
    if use.tag == "!secret":
        return _check_secret(rel, use, facts)
    if use.tag != INCLUDE_FILE and use.tag not in INCLUDE_DIRS:
        return None  # !env_var and !input are resolved by Home Assistant at run time
    return _check_include(rel, use, facts)


def _issue(rel: str, use: TagUse, message: str) -> ValidationIssue:
    return ValidationIssue(path=rel, line=use.line, column=use.column, message=message)


def _check_secret(rel: str, use: TagUse, facts: _Tree) -> Found:
    found, consulted = facts.secrets.lookup(rel, use.value)
    if found is False:
        where = " or ".join(consulted)
        return "error", _issue(rel, use, f"!secret {use.value}: no such name in {where}")
    return None


def _check_include(rel: str, use: TagUse, facts: _Tree) -> Found:
    try:
        candidates = resolve(rel, use.value, facts.config_roots)
    except Refused as refusal:
        return "error", _issue(rel, use, f"{use.tag} {use.value}: {refusal}")
    wanted = facts.directories if use.tag in INCLUDE_DIRS else facts.files
    target = next((c for c in candidates if c.path in wanted or not c.path), candidates[0])
    if target.path and is_ignored(target.path, facts.ignore):
        return "warning", _issue(
            rel,
            use,
            f"{use.tag} {use.value}: names an ignored path, which must already exist on the target",
        )
    if use.tag == INCLUDE_FILE:
        return _check_included_file(rel, use, facts, target)
    return _check_included_directory(rel, use, facts, target)


def _check_included_file(rel: str, use: TagUse, facts: _Tree, target: Candidate) -> Found:
    if target.path in facts.files:
        return None
    named = describe(target, facts.repo_prefix)
    kind = "a directory, use !include_dir_*" if _is_directory(target, facts) else "missing"
    return "error", _issue(
        rel, use, f"{use.tag} {use.value}: {named} is {kind}{wildcard_hint(use.value)}"
    )


def _check_included_directory(rel: str, use: TagUse, facts: _Tree, target: Candidate) -> Found:
    named = describe(target, facts.repo_prefix)
    if not _is_directory(target, facts):
        kind = "a file, use !include" if target.path in facts.files else "missing"
        return "error", _issue(
            rel,
            use,
            f"{use.tag} {use.value}: directory {named} is {kind}{wildcard_hint(use.value)}",
        )
    if not has_yaml_below(target.path, facts.files):
        return "warning", _issue(
            rel,
            use,
            f"{use.tag} {use.value}: directory {named} holds no *.yaml file, so Home Assistant "
            "reads nothing from it (it skips *.yml, hidden names and secrets.yaml)",
        )
    return None


def _is_directory(candidate: Candidate, facts: _Tree) -> bool:
    return not candidate.path or candidate.path in facts.directories


def _json_error(root: Path, rel: str) -> ValidationIssue | None:
    try:
        json.loads((root / rel).read_bytes())
    except json.JSONDecodeError as exc:
        return ValidationIssue(path=rel, line=exc.lineno, column=exc.colno, message=exc.msg)
    except UnicodeDecodeError as exc:
        return ValidationIssue(path=rel, message=f"not UTF-8 JSON: {exc.reason}")
    return None
