"""Check a whole configuration tree as it will be deployed.

Every YAML file is parsed in Home Assistant's dialect, every JSON file as JSON; includes
must name files or directories inside the tree, ``!secret`` names must exist; symlinks and
special files are refused. Errors carry file:line:column so a person can fix them.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from hearth_deployer.paths import UnsafePath, is_ignored, safe_relative
from hearth_deployer.validation.hayaml import INCLUDE_DIRS, INCLUDE_FILE, TagUse, parse_ha_yaml
from hearth_events.catalogue import ValidationIssue

YAML_SUFFIXES = (".yaml", ".yml")
SECRETS_FILE = "secrets.yaml"


@dataclass(frozen=True)
class _Tree:
    """What a tag may refer to: the files and directories being deployed, and secrets."""

    files: set[str]
    directories: set[str]
    secret_names: set[str] | None
    ignore: tuple[str, ...]


@dataclass
class ValidationReport:
    files: list[str] = field(default_factory=list)
    errors: list[ValidationIssue] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_tree(
    root: Path, *, ignore: tuple[str, ...] = (), target_secret_names: set[str] | None = None
) -> ValidationReport:
    """Validate the files under ``root`` that a deployment would write.

    ``target_secret_names`` are the keys of the target's own ``secrets.yaml``, used when the
    repository does not carry one; None means they are unknown (a warning, not an error).
    """
    report = ValidationReport()
    directories = _walk(root, ignore, report)
    present = set(report.files)
    facts = _Tree(
        present, directories, _secret_names(root, present, target_secret_names, report), ignore
    )
    for rel in report.files:
        if rel.endswith(YAML_SUFFIXES):
            _check_yaml(root, rel, facts, report)
        elif rel.endswith(".json"):
            _check_json(root, rel, report)
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
            elif is_ignored(rel, ignore) or name == ".git":
                dirnames.remove(name)
            else:
                directories.add(rel)
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if is_ignored(rel, ignore):
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
    return directories


def _symlink(root: Path, path: Path, rel: str) -> ValidationIssue:
    target = os.readlink(path)
    return ValidationIssue(
        path=rel,
        message=f"symlinks are not deployed ({rel} -> {target}); commit the file itself",
    )


def _secret_names(
    root: Path, present: set[str], from_target: set[str] | None, report: ValidationReport
) -> set[str] | None:
    if SECRETS_FILE not in present:
        return from_target
    try:
        loaded = yaml.safe_load((root / SECRETS_FILE).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return set()  # the YAML check reports the syntax error itself
    if loaded is None:
        return set()
    if not isinstance(loaded, dict):
        report.errors.append(
            ValidationIssue(
                path=SECRETS_FILE,
                line=1,
                column=1,
                message="secrets.yaml must be a mapping of secret names to values",
            )
        )
        return set()
    return {str(key) for key in loaded}


def _check_yaml(root: Path, rel: str, facts: _Tree, report: ValidationReport) -> None:
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        report.errors.append(
            ValidationIssue(
                path=rel, message=f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
            )
        )
        return
    parsed, error = parse_ha_yaml(rel, text)
    report.warnings.extend(parsed.warnings)
    if error is not None:
        report.errors.append(error)
        return
    for use in parsed.tags:
        issue = _check_tag(rel, use, facts)
        if issue is not None:
            (report.warnings if issue[0] == "warning" else report.errors).append(issue[1])
    if facts.secret_names is None and any(u.tag == "!secret" for u in parsed.tags):
        report.warnings.append(
            ValidationIssue(
                path=rel,
                message="!secret names could not be checked: the target's "
                "secrets.yaml was not available",
            )
        )


def _check_tag(rel: str, use: TagUse, facts: _Tree) -> tuple[str, ValidationIssue] | None:
    def issue(message: str) -> ValidationIssue:
        return ValidationIssue(path=rel, line=use.line, column=use.column, message=message)

    if use.tag == "!secret":
        if facts.secret_names is not None and use.value not in facts.secret_names:
            return "error", issue(f"!secret {use.value}: no such name in secrets.yaml")
        return None
    if use.tag != INCLUDE_FILE and use.tag not in INCLUDE_DIRS:
        return None  # !env_var and !input are resolved by Home Assistant at run time
    base = PurePosixPath(rel).parent
    try:
        target = safe_relative(str(base / use.value))
    except UnsafePath:
        return "error", issue(f"{use.tag} {use.value}: leaves the configuration directory")
    if is_ignored(target, facts.ignore):
        return "warning", issue(
            f"{use.tag} {use.value}: names an ignored path, which must already exist on the target"
        )
    if use.tag == INCLUDE_FILE:
        if target in facts.files:
            return None
        kind = "a directory, use !include_dir_*" if target in facts.directories else "missing"
        return "error", issue(f"{use.tag} {use.value}: {target} is {kind}")
    if target not in facts.directories:
        kind = "a file, use !include" if target in facts.files else "missing"
        return "error", issue(f"{use.tag} {use.value}: directory {target} is {kind}")
    return None


def _check_json(root: Path, rel: str, report: ValidationReport) -> None:
    try:
        json.loads((root / rel).read_bytes())
    except json.JSONDecodeError as exc:
        report.errors.append(
            ValidationIssue(path=rel, line=exc.lineno, column=exc.colno, message=exc.msg)
        )
    except UnicodeDecodeError as exc:
        report.errors.append(ValidationIssue(path=rel, message=f"not UTF-8 JSON: {exc.reason}"))
