from pathlib import Path

from hearth_deployer.domain.reload import ApplyMethod, choose_apply_method

CONFIG = (
    "homeassistant:\n  name: Home\n"
    "automation: !include automations.yaml\n"
    "automation manual: !include_dir_merge_list automations/\n"
    "script: !include scripts.yaml\n"
    "scene: !include scenes.yaml\n"
    "sensor: !include sensors.yaml\n"
)


def root(tmp_path: Path) -> Path:
    (tmp_path / "configuration.yaml").write_text(CONFIG)
    return tmp_path


def test_only_automations_changed_reloads_automations(tmp_path: Path) -> None:
    method = choose_apply_method(root(tmp_path), ["automations.yaml", "automations/lights.yaml"])
    assert method == ApplyMethod(restart=False, domains=("automation",))


def test_scripts_and_scenes_reload_both(tmp_path: Path) -> None:
    method = choose_apply_method(root(tmp_path), ["scripts.yaml", "scenes.yaml"])
    assert method == ApplyMethod(restart=False, domains=("scene", "script"))


def test_anything_else_restarts(tmp_path: Path) -> None:
    assert choose_apply_method(root(tmp_path), ["automations.yaml", "sensors.yaml"]).restart
    assert choose_apply_method(root(tmp_path), ["configuration.yaml"]).restart
    assert choose_apply_method(root(tmp_path), ["packages/x.yaml"]).restart


def test_an_unreadable_configuration_restarts(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("automation: [\n")
    assert choose_apply_method(tmp_path, ["automations.yaml"]).restart
