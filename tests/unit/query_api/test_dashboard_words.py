"""What the dashboard says: status words, times, plans, commit links, waiting targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from hearth_events.catalogue import RepositorySpec
from hearth_query_api.entrypoints.dashboard import Dashboard
from hearth_query_api.entrypoints.dashboard.charts import bar_strip
from hearth_query_api.entrypoints.dashboard.present import (
    ago,
    duration,
    plan_summary,
    status_label,
    words,
)
from hearth_query_api.projections.repositories import subject, web_url

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "rolled_back", "dry_run", "label"),
    [
        ("rolled_back", False, False, "rolled back"),
        ("rollback_failed", False, False, "rollback failed"),
        ("failed", True, False, "failed — host restored"),
        ("failed", False, False, "failed"),
        ("succeeded", False, True, "dry run finished"),
        ("superseded", False, False, "superseded"),
        (None, False, False, "never deployed"),
    ],
)
def test_statuses_read_as_words(
    status: str | None, rolled_back: bool, dry_run: bool, label: str
) -> None:
    assert status_label(status, rolled_back, dry_run) == label


def test_times_and_durations_read_as_people_say_them() -> None:
    assert ago(NOW - timedelta(seconds=10), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=3), NOW) == "3 min ago"
    assert ago(NOW - timedelta(hours=5), NOW) == "5 h ago"
    assert ago(NOW - timedelta(days=2), NOW) == "2 d ago"
    assert [duration(ms) for ms in (128, 4200, 185_000)] == ["128 ms", "4.2 s", "3 min 5 s"]


def test_a_plan_counts_binary_files_and_says_when_no_text_changed() -> None:
    plan = {"added": [{"path": "a.png"}], "changed": [{"path": "b.yaml"}], "removed": []}
    diff = "Binary files a/a.png and b/a.png differ\n--- a/b.yaml\n+++ b/b.yaml\n@@ -1 +1 @@\n"
    assert plan_summary(plan, diff) == {
        "added": 1,
        "changed": 1,
        "removed": 0,
        "total": 2,
        "binary": 1,
        "text": True,
    }
    only_binary = plan_summary(plan | {"changed": []}, "Binary files a/a.png and b/a.png differ\n")
    assert only_binary is not None and only_binary["binary"] == 1 and not only_binary["text"]
    assert plan_summary(None, "") is None


@pytest.mark.parametrize(
    ("url", "provider", "expected"),
    [
        ("https://github.com/home/config.git", "github", "https://github.com/home/config"),
        # credentials in the clone URL never reach the page
        (
            "https://x:s3cret@ghe.example:8443/home/config",
            "github",
            "https://ghe.example:8443/home/config",
        ),
        ("git@github.com:home/config.git", "github", "https://github.com/home/config"),
        ("ssh://git@github.com/home/config.git", "github", "https://github.com/home/config"),
        ("file:///srv/git/config.git", "github", "https://github.com/home/config"),
        # a plain Git server: nobody knows where its commit pages are
        ("https://git.example/home/config.git", "git", None),
        ("file:///srv/git/config.git", "git", None),
    ],
)
def test_only_github_repositories_get_a_web_address(
    url: str, provider: Any, expected: str | None
) -> None:
    assert web_url(RepositorySpec(name="home/config", url=url, provider=provider)) == expected


def test_a_commit_subject_is_its_first_line() -> None:
    assert subject("  Fix the lights\n\nLonger text\n") == "Fix the lights"


def render(name: str, **context: Any) -> str:
    dashboard = Dashboard(None, lambda: None, secure_cookie=False)
    template = dashboard.templates.get_template(name)
    return template.render(
        links={}, subjects={}, principal=None, session=None, csrf="", path="/", **context
    )


def target(**fields: Any) -> SimpleNamespace:
    base = {
        "name": "ha",
        "kind": "homeassistant",
        "host": "ha.lan",
        "repo": "home/config",
        "current_commit": None,
        "last_deployment_id": None,
        "last_status": None,
        "last_finished_at": None,
        "status": "grey",
    }
    return SimpleNamespace(**(base | fields))


def test_a_target_waiting_for_a_secret_says_which() -> None:
    strip = {"ha": bar_strip([])}
    html = render("_targets.html", targets=[target(waiting_for=["ha-ssh-key"])], history=strip)
    assert "waiting for secret ha-ssh-key" in html
    # Without the field (an older API) the page renders all the same.
    assert "waiting for" not in render("_targets.html", targets=[target()], history=strip)


def test_a_strip_has_a_bar_per_deployment_scaled_to_the_slowest() -> None:
    rows = [
        {"id": str(i), "status": s, "rolled_back": False, "duration_ms": ms, "requested_at": NOW}
        for i, (s, ms) in enumerate([("succeeded", 1000), ("failed", 4000), ("succeeded", 0)])
    ]
    strip = bar_strip(rows, width=300, height=40, slots=30)
    assert [b.tone for b in strip.bars] == ["ok", "bad", "ok"]
    assert strip.bars[1].height == 38 and strip.bars[2].height == 3  # never invisible
    assert (strip.succeeded, strip.finished, strip.median_ms) == (2, 3, 1000)


def test_a_target_whose_failed_deployment_was_rolled_back_says_host_restored() -> None:
    row = {
        "id": "d1",
        "status": "failed",
        "rolled_back": True,
        "duration_ms": 900,
        "requested_at": NOW,
    }
    failed = target(last_status="failed", last_deployment_id="d1", status="red")
    html = render("_targets.html", targets=[failed], history={"ha": bar_strip([row])})
    assert "failed — host restored" in html
    html = render("_targets.html", targets=[failed], history={"ha": bar_strip([])})
    assert "host restored" not in html


def test_event_types_break_between_words_only() -> None:
    assert str(words("DeploymentSucceeded")) == "Deployment<wbr>Succeeded"
    assert str(words("<b>")) == "&lt;b&gt;"


def test_a_failure_before_the_host_was_touched_says_so() -> None:
    assert status_label("failed", untouched=True) == "failed — host untouched"
    assert status_label("waiting") == "waiting for a secret"
