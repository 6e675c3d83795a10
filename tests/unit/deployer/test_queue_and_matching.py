"""The deployer's decisions without I/O: which pushes deploy where, queues, target checks."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_deployer.domain import Deployment, IllegalTransition, Restored, TargetLine
from hearth_deployer.domain.target_spec import backup_dir, check_target, ignored_paths
from hearth_deployer.handlers import fed_by, push_deployment_id, targets_for_push
from hearth_events.catalogue import (
    BackupTaken,
    CommitInfo,
    ConfigFetched,
    ConfigValidated,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    FilesDeployed,
    HealthCheckPassed,
    PushReceived,
    RepositorySpec,
    TargetSpec,
)
from hearth_eventstore.store import Meta

SHA_A, SHA_B = "a" * 40, "b" * 40
META = Meta(actor="test")


def spec(**overrides: Any) -> TargetSpec:
    values: dict[str, Any] = {
        "name": "ha",
        "kind": "files",
        "host": "pi",
        "user": "hearth",
        "key_secret": "k",
        "known_host_key": "ssh-ed25519 AAAA",
        "remote_path": "/srv/config",
        "repo": "alice/home",
    }
    values.update(overrides)
    return TargetSpec.model_validate(values)


def push(*paths: str, branch: str | None = "main", **overrides: Any) -> PushReceived:
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "repo": "alice/home",
        "ref": f"refs/heads/{branch}",
        "branch": branch,
        "before": SHA_A,
        "after": SHA_B,
        "commits": (CommitInfo(id=SHA_B, modified=paths),) if paths else (),
    }
    values.update(overrides)
    return PushReceived.model_validate(values)


def no_repository(_: str) -> RepositorySpec | None:
    return None


def test_a_push_deploys_to_targets_of_its_repo_branch_and_subdirectory() -> None:
    targets = [
        spec(name="ha", subdirectory="homeassistant"),
        spec(name="nginx", subdirectory="nginx"),
        spec(name="dev", branch="dev"),
        spec(name="manual", auto_deploy=False),
        spec(name="other", repo="bob/home"),
        spec(name="whole"),
    ]
    chosen = targets_for_push(push("nginx/site.conf"), targets, no_repository)
    assert [t.name for t in chosen] == ["nginx", "whole"]


def test_a_push_without_file_lists_deploys_everywhere_it_may() -> None:
    targets = [spec(name="ha", subdirectory="homeassistant")]
    assert targets_for_push(push(), targets, no_repository) == targets
    truncated = push("x", commits_truncated=True)
    assert targets_for_push(truncated, targets, no_repository) == targets


def test_tags_and_deleted_branches_deploy_nothing() -> None:
    targets = [spec()]
    tag = push("a", branch=None, ref="refs/tags/v1", tag="v1")
    assert targets_for_push(tag, targets, no_repository) == []
    assert targets_for_push(push("a", deleted=True), targets, no_repository) == []


def test_a_push_names_its_repository_by_url_for_plain_git() -> None:
    declared = RepositorySpec(name="alice/home", url="file:///srv/git/home.git")
    by_url = push("a", repo="file:///srv/git/home.git")
    assert targets_for_push(by_url, [spec()], lambda _: declared) == [spec()]


def test_repository_names_match_without_case_as_declarations_do() -> None:
    # GitHub's webhook spells the name as the owner typed it; the target as the user did.
    targets = [spec(repo="Alice/Home")]
    assert targets_for_push(push("a", repo="alice/HOME"), targets, no_repository) == targets
    assert targets_for_push(push("a", repo="alice/home2"), targets, no_repository) == []
    assert fed_by(targets[0], "ALICE/home", no_repository)  # as a CI result names it


def test_the_same_push_asks_for_the_same_deployment() -> None:
    assert push_deployment_id("e1", "ha") == push_deployment_id("e1", "ha")
    assert push_deployment_id("e1", "ha") != push_deployment_id("e1", "nginx")


def test_a_new_request_supersedes_the_waiting_one_only() -> None:
    line = TargetLine("ha")
    assert line.queue("d1") is None
    assert line.begin() == "d1"
    assert line.queue("d2") is None  # waits behind the active one
    assert line.queue("d3") == "d2"  # the newest wins
    assert (line.active, line.waiting) == ("d1", "d3")
    line.end("d1", commit=SHA_B, managed=["a.yaml"])
    assert (line.active, line.commit, line.managed) == (None, SHA_B, ["a.yaml"])
    line.end("d9", commit=None, managed=None)  # an unknown end changes nothing
    assert line.commit == SHA_B


def test_a_line_records_the_managed_files_only_when_they_changed() -> None:
    """An end that leaves the managed files as they were records no list (a one-file
    change to 400 files stored 400 paths at every end); the line still holds them."""
    line = TargetLine("ha")
    managed = [f"packages/room_{n:04}.yaml" for n in range(400)]
    for n, files in enumerate((managed, list(managed), [*managed, "new.yaml"])):
        line.queue(f"d{n}")
        line.begin()
        line.end(f"d{n}", commit=SHA_B, managed=files)
    ended = [e for e in line.collect_events() if isinstance(e, TargetLine.Ended)]
    assert [e.managed for e in ended] == [managed, None, [*managed, "new.yaml"]]
    assert line.managed == [*managed, "new.yaml"]


def test_a_completed_restore_changes_the_files_the_line_manages() -> None:
    """What a restore put back is managed again, what it deleted no longer; the rest of
    the line's files stay as they were."""
    line = TargetLine("ha")
    line.queue("d1")
    line.begin()
    line.end("d1", commit=SHA_B, managed=["a.yaml", "c.yaml", "new.yaml"])
    line.queue("r1")
    line.begin()
    restored = Restored(put_back=("b.yaml", "c.yaml"), deleted=("new.yaml",))
    line.end("r1", commit=None, managed=None, restored=restored)
    assert line.managed == ["a.yaml", "b.yaml", "c.yaml"]
    assert line.commit == SHA_B


def test_only_a_completed_restore_says_what_it_restored() -> None:
    backup = {"backup_id": "b1", "files": ["b.yaml"], "absent": ["new.yaml"]}
    restore = Deployment("r1", "ha", "restore", {})
    restore.backup, restore.terminal = backup, "RollbackCompleted"
    assert restore.restored() == Restored(put_back=("b.yaml",), deleted=("new.yaml",))
    restore.terminal = "RollbackFailed"  # the host may hold a mix: nothing is assumed
    assert restore.restored() is None
    deploy = Deployment("d1", "ha", "deploy", {})
    deploy.backup, deploy.terminal = backup, "RollbackCompleted"  # its own upload undone
    assert deploy.restored() is None


def test_a_line_begins_only_a_waiting_deployment_on_a_free_target() -> None:
    line = TargetLine("ha")
    with pytest.raises(IllegalTransition, match="nothing waits on ha"):
        line.begin()
    line.queue("d1")
    line.begin()
    line.queue("d2")
    with pytest.raises(IllegalTransition, match="deployment d1 is still active on ha"):
        line.begin()
    assert (line.active, line.waiting) == ("d1", "d2")


def test_ci_results_release_waiting_pushes_only_when_green() -> None:
    line = TargetLine("ha")
    line.await_ci(SHA_B, {"commit": SHA_B})
    assert line.ci_finished(SHA_B, "failure") is None
    assert SHA_B not in line.awaiting_ci
    line.await_ci(SHA_A, {"commit": SHA_A})
    assert line.ci_finished(SHA_A, "success") == {"commit": SHA_A}
    assert line.ci_results == {SHA_B: "failure", SHA_A: "success"}


def test_a_deployment_knows_where_it_stood() -> None:
    deployment = Deployment("d1", "ha", "deploy", {"commit": None, "dry_run": False})
    ids = {"deployment_id": "d1", "target": "ha"}
    deployment.start(DeploymentStarted(**ids), META)
    deployment.fetched(ConfigFetched(**ids, commit=SHA_B, files=1, bytes=1), META)
    deployment.validated(ConfigValidated(**ids, files_checked=1), META)
    deployment.planned(DeploymentPlanned(**ids), META)
    deployment.backed_up(
        BackupTaken(
            **ids, backup_id="b1", remote_path="/b/b1.tar.gz", sha256="0", files=1, bytes=1
        ),
        {"backup_id": "b1"},
        META,
    )
    assert (deployment.has(BackupTaken), deployment.upload_begun) == (True, False)
    deployment.begin_upload(["a.yaml"], ["a.yaml", "b.yaml"])
    assert (deployment.upload_begun, deployment.touched) == (True, ["a.yaml"])
    assert deployment.terminal is None
    deployment.uploaded(FilesDeployed(**ids, written=1, removed=0, bytes=1), META)
    deployment.health_checked(HealthCheckPassed(**ids, check="none", duration_ms=1), META)
    deployment.succeed(
        DeploymentSucceeded(**ids, commit=SHA_B, duration_ms=5), META, managed=["a.yaml"]
    )
    assert deployment.terminal == "DeploymentSucceeded"


def test_targets_that_cannot_work_are_refused_with_reasons() -> None:
    problems = check_target(
        spec(
            kind="homeassistant",
            remote_path="config",
            known_host_key=None,
        )
    )
    assert problems == [
        "target ha: remote_path must be an absolute directory other than /",
        "target ha: a homeassistant target needs ha_url and ha_token_secret (a long-lived "
        "access token stored with `hearth secret set`)",
        "target ha: give known_host_key (the line from `ssh-keyscan -t ed25519 pi`) or set "
        "trust_on_first_use: true",
    ]
    assert check_target(spec(backup_path="/srv/config/backups")) == [
        "target ha: backup_path must lie outside remote_path"
    ]
    assert check_target(spec()) == []


def test_backups_live_beside_the_root_and_home_assistant_state_is_never_touched() -> None:
    assert backup_dir(spec()) == "/srv/.hearth-backups/config"
    assert backup_dir(spec(backup_path="/var/backups/ha")) == "/var/backups/ha"
    assert ".storage/" in ignored_paths(spec(kind="homeassistant", ignore=("x/",)))
    assert ignored_paths(spec(ignore=("x/",))) == ("x/",)
