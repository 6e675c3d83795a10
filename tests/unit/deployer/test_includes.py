"""Includes resolved as Home Assistant resolves them, absolute ones through the
configuration roots; ``!secret`` looked up beside the file, then up to the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth_deployer.domain.target_spec import builtin_ignored, check_target, ignored_paths
from hearth_deployer.domain.validation import validate_tree
from hearth_events.catalogue import TargetSpec
from tests.unit.deployer.test_validation import tree

#: Shaped like a real, published configuration written on Home Assistant OS: YAML
#: dashboards and packages that include by absolute /config paths.
PUBLISHED = {
    "configuration.yaml": (
        "homeassistant:\n"
        "  name: Home\n"
        "  packages: !include_dir_named /config/packages\n"
        "lovelace:\n"
        "  mode: storage\n"
        "  dashboards:\n"
        "    dashboard-bedroom:\n"
        "      mode: yaml\n"
        "      title: Bedroom\n"
        "      filename: dashboards/bedroom/dashboard.yaml\n"
        "    dashboard-infra:\n"
        "      mode: yaml\n"
        "      title: Infra\n"
        "      filename: /config/dashboards/infra/dashboard.yaml\n"
        "automation: !include automations.yaml\n"
        "sensor: !include_dir_merge_list /config/sensors/\n"
        "script: !include_dir_merge_named scripts\n"
    ),
    "automations.yaml": "[]\n",
    "dashboards/bedroom/dashboard.yaml": (
        "title: Bedroom\nviews: !include_dir_list /config/dashboards/bedroom/views\n"
    ),
    "dashboards/bedroom/views/01-main.yaml": "title: Main\ncards: []\n",
    "dashboards/bedroom/views/02-infra.yaml": (
        "title: Infra\ncards:\n  - !include /config/dashboards/infra/infra_panel.yaml\n"
    ),
    "dashboards/infra/dashboard.yaml": "views: !include /config/dashboards/infra/views.yaml\n",
    "dashboards/infra/views.yaml": "- title: Infra\n  cards:\n    - !include infra_panel.yaml\n",
    "dashboards/infra/infra_panel.yaml": "type: markdown\ncontent: !secret infra_note\n",
    "packages/garage.yaml": (
        "input_boolean: !include /config/includes/garage_booleans.yaml\n"
        "rest_command:\n  open:\n    url: !secret garage_url\n"
    ),
    "packages/lights/lamp.yaml": "light:\n  - platform: template\n    code: !secret lamp_code\n",
    "packages/secrets.yaml": "lamp_code: '1234'\n",
    "includes/garage_booleans.yaml": "garage_open: {}\n",
    "sensors/a.yaml": "- platform: template\n",
    "scripts/a.yaml": "hello:\n  sequence: []\n",
    "secrets.yaml": "infra_note: hello\ngarage_url: http://garage\n",
}


def roots(remote_path: str) -> tuple[str, ...]:
    """What the deployer passes: the target's remote_path and its default config_roots."""
    spec = TargetSpec.model_validate({**SPEC, "remote_path": remote_path, "kind": "homeassistant"})
    return (spec.remote_path, *spec.config_roots)


SPEC = {
    "name": "ha",
    "kind": "files",
    "host": "pi",
    "user": "hearth",
    "key_secret": "k",
    "remote_path": "/config",
    "repo": "home/config",
    "trust_on_first_use": True,
}


@pytest.mark.parametrize("remote_path", ["/config", "/srv/ha/config"])
def test_a_published_configuration_with_absolute_includes_validates(
    tmp_path: Path, remote_path: str
) -> None:
    report = validate_tree(tree(tmp_path, PUBLISHED), config_roots=roots(remote_path))
    assert report.errors == []
    assert report.warnings == []


def test_an_include_through_remote_path_itself_is_accepted(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "a: !include /srv/ha/config/a.yaml\n"
            "b: !include_dir_named /srv/ha/config/\n",
            "a.yaml": "{}\n",
        },
    )
    assert validate_tree(tmp_path, config_roots=roots("/srv/ha/config")).errors == []
    (refused, _) = validate_tree(tmp_path, config_roots=roots("/config")).errors
    assert "tried /config" in refused.message


def test_a_path_outside_every_root_is_refused_naming_the_roots(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "name: Home\nx: !include /etc/passwd\n"})
    (error,) = validate_tree(tmp_path, config_roots=roots("/srv/ha/config")).errors
    assert (error.path, error.line, error.column) == ("configuration.yaml", 2, 4)
    assert error.message.startswith(
        "!include /etc/passwd: outside the configuration directory Home Assistant sees; "
        "tried /config, /srv/ha/config"
    )
    assert "config_roots" in error.message
    # climbing out with .. is no way around it
    tree(tmp_path, {"configuration.yaml": "x: !include_dir_list /config/../etc\n"})
    (error,) = validate_tree(tmp_path, config_roots=roots("/config")).errors
    assert "outside the configuration directory" in error.message


def test_a_missing_absolute_include_names_the_repository_path(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "a: !include /config/dashboards/x/views.yaml\n"
            "b: !include_dir_list /config/dashboards/bedroom/views\n",
        },
    )
    errors = validate_tree(tmp_path, config_roots=roots("/config"), repo_prefix="ha").errors
    assert [e.message for e in errors] == [
        "!include /config/dashboards/x/views.yaml: ha/dashboards/x/views.yaml in the "
        "repository (through /config) is missing",
        "!include_dir_list /config/dashboards/bedroom/views: directory "
        "ha/dashboards/bedroom/views in the repository (through /config) is missing",
    ]


def test_without_roots_an_absolute_include_says_so(tmp_path: Path) -> None:
    tree(tmp_path, {"configuration.yaml": "a: !include /config/a.yaml\n", "a.yaml": "{}\n"})
    (error,) = validate_tree(tmp_path).errors
    assert "declares no configuration directory" in error.message


@pytest.mark.parametrize(
    "tag",
    [
        "!include_dir_list",
        "!include_dir_named",
        "!include_dir_merge_list",
        "!include_dir_merge_named",
    ],
)
def test_every_include_dir_form_maps_and_checks_its_folder(tmp_path: Path, tag: str) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": f"a: {tag} /config/parts\nb: {tag} parts/\nc: {tag} /config/no\n",
            "parts/one.yaml": "{}\n",
        },
    )
    (error,) = validate_tree(tmp_path, config_roots=roots("/config")).errors
    assert (error.line, error.message) == (
        3,
        f"{tag} /config/no: directory no in the repository (through /config) is missing",
    )


def test_a_folder_home_assistant_reads_nothing_from_is_a_warning(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "a: !include_dir_merge_list sensors\n",
            "sensors/a.yml": "[]\n",
            "sensors/.hidden/b.yaml": "[]\n",
        },
    )
    report = validate_tree(tmp_path)
    assert report.errors == []
    (warning,) = report.warnings
    assert "holds no *.yaml file" in warning.message and "*.yml" in warning.message


def test_a_wildcard_in_an_include_gets_a_hint(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {"configuration.yaml": "a: !include /config/sensors/*.yaml\n", "sensors/a.yaml": "[]\n"},
    )
    (error,) = validate_tree(tmp_path, config_roots=roots("/config")).errors
    assert "is missing; Home Assistant expands no wildcards" in error.message


def test_secrets_are_looked_up_beside_the_file_then_up_to_the_root(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "a: !secret root_name\nb: !secret nested_name\n",
            "secrets.yaml": "root_name: 1\n",
            "packages/secrets.yaml": "nested_name: 2\n",
            "packages/deep/x.yaml": "a: !secret nested_name\nb: !secret root_name\n"
            "c: !secret nowhere\n",
        },
    )
    errors = [(e.path, e.line, e.message) for e in validate_tree(tmp_path).errors]
    assert errors == [
        ("configuration.yaml", 2, "!secret nested_name: no such name in secrets.yaml"),
        (
            "packages/deep/x.yaml",
            3,
            "!secret nowhere: no such name in packages/secrets.yaml or secrets.yaml",
        ),
    ]


def test_config_roots_default_to_config_and_must_be_absolute() -> None:
    spec = TargetSpec.model_validate(SPEC)
    assert spec.config_roots == ("/config",)
    bad = TargetSpec.model_validate({**SPEC, "config_roots": ["config", "/"]})
    assert check_target(bad) == [
        "target ha: config_roots entry 'config' must be an absolute directory other than /",
        "target ha: config_roots entry '/' must be an absolute directory other than /",
    ]


def test_files_left_out_by_the_built_in_list_are_named(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "configuration.yaml": "{}\n",
            ".HA_VERSION": "2026.11.1\n",
            ".storage/core.config": "{}",
            ".storage/auth": "{}",
            "home-assistant.log": "",
            "local.txt": "mine",
        },
    )
    spec = TargetSpec.model_validate({**SPEC, "kind": "homeassistant", "ignore": ["local.txt"]})
    report = validate_tree(tmp_path, ignore=ignored_paths(spec))
    assert report.files == ["configuration.yaml"]
    line = builtin_ignored(spec, report.ignored)
    assert line is not None and line.startswith(
        "skipped 4 files by the built-in Home Assistant ignore list: .HA_VERSION, "
        ".storage/auth, .storage/core.config, home-assistant.log ("
    )
    files_spec = TargetSpec.model_validate({**SPEC, "ignore": ["local.txt"]})
    assert builtin_ignored(files_spec, ["local.txt"]) is None
