"""The configuration check, on real files in a temporary tree."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.domain.paths import UnsafePath, is_ignored, safe_relative
from hearth_deployer.domain.validation import hayaml, validate_tree


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


GOOD = {
    "configuration.yaml": (
        "homeassistant:\n"
        "  name: Home\n"
        "  packages: !include_dir_named packages\n"
        "automation: !include automations.yaml\n"
        "script: !include_dir_merge_named scripts\n"
        "sensor: !include_dir_merge_list sensors\n"
        "http:\n"
        "  api_password: !secret http_password\n"
        "  base_url: !env_var BASE_URL\n"
    ),
    "automations.yaml": "- alias: Lights on\n  trigger: []\n  action: []\n",
    "packages/garage.yaml": "input_boolean:\n  garage_open: {}\n",
    "scripts/a.yaml": "hello:\n  sequence: []\n",
    "sensors/a.yaml": "- platform: template\n",
    "blueprints/automation/motion.yaml": "blueprint:\n  input:\n    x: {}\ntrigger: !input x\n",
    "secrets.yaml": "http_password: hunter2\n",
    ".storage/core.config": "{}",
    "ui-lovelace.json": '{"views": []}',
}


def test_a_well_formed_configuration_passes(tmp_path: Path) -> None:
    report = validate_tree(tree(tmp_path, GOOD), ignore=(".storage/",))
    assert report.errors == []
    assert ".storage/core.config" not in report.files
    assert "configuration.yaml" in report.files


def test_syntax_errors_carry_file_line_and_column(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "homeassistant:\n  name: [Home\nlight: x\n"})
    (error,) = validate_tree(tmp_path).errors
    assert error.path == "configuration.yaml"
    assert (error.line, error.column) == (3, 6)
    assert "expected ',' or ']'" in error.message


def test_an_unknown_tag_is_named(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "x: !includ automations.yaml\n"})
    (error,) = validate_tree(tmp_path).errors
    assert "unknown tag !includ" in error.message
    assert (error.line, error.column) == (1, 4)


def test_missing_includes_and_wrong_kinds_are_errors(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": (
                "a: !include missing.yaml\n"
                "b: !include_dir_named nowhere\n"
                "c: !include packages\n"
                "d: !include_dir_list automations.yaml\n"
            ),
            "automations.yaml": "[]\n",
            "packages/x.yaml": "{}\n",
        },
    )
    messages = [(e.line, e.message) for e in validate_tree(tmp_path).errors]
    assert messages == [
        (1, "!include missing.yaml: missing.yaml is missing"),
        (2, "!include_dir_named nowhere: directory nowhere is missing"),
        (3, "!include packages: packages is a directory, use !include_dir_*"),
        (
            4,
            "!include_dir_list automations.yaml: directory automations.yaml is a file, "
            "use !include",
        ),
    ]


def test_includes_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "homeassistant:\n  packages: !include_dir_named packages\n",
            "packages/lights.yaml": "light: !include ../lights/list.yaml\n",
            "lights/list.yaml": "[]\n",
        },
    )
    assert validate_tree(tmp_path).errors == []


def test_an_include_that_escapes_the_root_is_refused(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "x: !include ../../etc/passwd\n"})
    (error,) = validate_tree(tmp_path).errors
    assert "leaves the configuration directory" in error.message


def test_unknown_secret_names_are_errors(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "a: !secret known\nb: !secret typo\n",
            "secrets.yaml": "known: 1\n",
        },
    )
    (error,) = validate_tree(tmp_path).errors
    assert (error.line, error.message) == (2, "!secret typo: no such name in secrets.yaml")


def test_without_a_repo_secrets_file_the_targets_names_are_used(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "a: !secret on_target\nb: !secret absent\n"})
    report = validate_tree(tmp_path, ignore=("secrets.yaml",), target_secret_names={"on_target"})
    assert [e.message for e in report.errors] == ["!secret absent: no such name in secrets.yaml"]
    unknown = validate_tree(tmp_path, ignore=("secrets.yaml",), target_secret_names=None)
    assert unknown.errors == []
    assert "could not be checked" in unknown.warnings[0].message


def test_duplicate_keys_are_warnings(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "light: []\nswitch: []\nlight: []\n"})
    report = validate_tree(tmp_path)
    assert report.errors == []
    assert report.warnings[0].line == 3
    assert "duplicate key 'light' (first at line 1)" in report.warnings[0].message


def test_invalid_json_is_located(tmp_path: Path) -> None:
    tree(tmp_path, {"ui.json": '{\n  "views": [,]\n}'})
    (error,) = validate_tree(tmp_path).errors
    assert (error.path, error.line, error.column) == ("ui.json", 2, 13)


def test_symlinks_are_refused_with_their_target(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "{}\n"})
    os.symlink("/etc/passwd", tmp_path / "passwd.yaml")
    os.symlink("/etc", tmp_path / "etc")
    errors = {e.path: e.message for e in validate_tree(tmp_path).errors}
    assert errors == {
        "etc": "symlinks are not deployed (etc -> /etc); commit the file itself",
        "passwd.yaml": "symlinks are not deployed (passwd.yaml -> /etc/passwd); "
        "commit the file itself",
    }


def test_non_utf8_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_bytes(b"name: caf\xe9\n")
    (error,) = validate_tree(tmp_path).errors
    assert "not UTF-8" in error.message


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b.yaml", "a/b.yaml"), ("./a//b.yaml", "a/b.yaml"), ("a/../b.yaml", "b.yaml")],
)
def test_safe_relative_normalises(path: str, expected: str) -> None:
    assert safe_relative(path) == expected


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", "."])
def test_safe_relative_refuses_escapes(path: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relative(path)


@pytest.mark.parametrize(
    ("path", "patterns", "ignored"),
    [
        (".storage/core.config", (".storage/",), True),
        ("secrets.yaml", ("secrets.yaml",), True),
        ("packages/secrets.yaml", ("secrets.yaml",), True),
        ("home-assistant_v2.db", ("*.db",), True),
        ("deps/x/y.py", ("deps/",), True),
        ("www/deps/y.js", ("deps/",), True),
        ("automations.yaml", (".storage/", "*.db"), False),
        ("tts/a.mp3", ("www/*.mp3",), False),
    ],
)
def test_ignore_patterns(path: str, patterns: tuple[str, ...], ignored: bool) -> None:
    assert is_ignored(path, patterns) is ignored


def test_every_file_is_read_by_one_loader_class_each_parse_keeping_its_own_findings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One loader class for all files (a class made per file was a tenth of a parse);
    what a file refers to and warns about stays with its parse, in any thread."""
    made: list[str] = []
    init = hayaml.HomeAssistantLoader.__init__

    def counting(self: Any, text: str, path: str, parsed: Any) -> None:
        made.append(path)
        init(self, text, path, parsed)

    monkeypatch.setattr(hayaml.HomeAssistantLoader, "__init__", counting)

    def parse(n: int) -> tuple[int, list[str], list[str]]:
        text = f"a: !secret s{n}\nb: 1\nb: 2\nc: !include f{n}.yaml\n"
        parsed, error = hayaml.parse_ha_yaml(f"f{n}.yaml", text)
        assert error is None
        return n, [t.value for t in parsed.tags], [w.path for w in parsed.warnings]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(parse, range(200)))
    for n, tags, warned in results:
        assert tags == [f"s{n}", f"f{n}.yaml"] and warned == [f"f{n}.yaml"]
    assert sorted(made) == sorted(f"f{n}.yaml" for n in range(200))
