"""Fetching the exact commit: a Git mirror over file://, and GitHub tarballs via githubkit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import psutil
import pytest
from githubkit import GitHub, TokenAuthStrategy
from githubkit.response import Response

from hearth_deployer.adapters import githubsource, treecache, treeio
from hearth_deployer.adapters.sources import FetchError, GitHubTarballs, GitMirrors
from hearth_events.catalogue import RepositorySpec
from tests.support.git import GitRemote, git, make_remote

pytestmark = pytest.mark.integration


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    remote = make_remote(tmp_path / "remote")
    remote.commit(
        {
            "ha/configuration.yaml": "homeassistant:\n",
            "ha/automations.yaml": "[]\n",
            "nginx/site.conf": "server {}\n",
            "README.md": "# home\n",
        }
    )
    remote.push()
    return remote


def spec_for(remote: GitRemote, **fields: Any) -> RepositorySpec:
    return RepositorySpec.model_validate({"name": "alice/home", "url": remote.url, **fields})


def listing(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_the_mirror_exports_exactly_one_commits_subdirectory(
    tmp_path: Path, remote: GitRemote
) -> None:
    first = remote.head()
    remote.commit({"ha/configuration.yaml": "homeassistant:\n  name: New\n"})
    second = remote.push()
    mirrors = GitMirrors(tmp_path / "cache")
    spec = spec_for(remote)

    old = await mirrors.fetch(
        spec, commit=first, branch="main", subdirectory="ha", dest=tmp_path / "old", token=None
    )
    assert old.commit == first
    assert listing(tmp_path / "old") == {
        "automations.yaml": "[]\n",
        "configuration.yaml": "homeassistant:\n",
    }
    head = await mirrors.fetch(
        spec, commit=None, branch="main", subdirectory="ha/", dest=tmp_path / "head", token=None
    )
    assert (head.commit, head.files) == (second, 2)
    assert "name: New" in (tmp_path / "head" / "configuration.yaml").read_text()
    assert await mirrors.changed_paths(spec, first, second) == ["ha/configuration.yaml"]


async def test_file_modes_and_symlinks_survive_for_the_validator_to_judge(
    tmp_path: Path, remote: GitRemote
) -> None:
    (remote.work / "ha").mkdir(exist_ok=True)
    script = remote.work / "ha" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.symlink("/etc/passwd", remote.work / "ha" / "passwd")
    remote.commit({})
    from tests.support.git import git

    git(remote.work, "add", "-A")
    git(remote.work, "commit", "-q", "-m", "script and link")
    remote.push()
    fetched = await GitMirrors(tmp_path / "cache").fetch(
        spec_for(remote),
        commit=None,
        branch="main",
        subdirectory="ha",
        dest=tmp_path / "out",
        token=None,
    )
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o111
    assert (tmp_path / "out" / "passwd").is_symlink()
    assert fetched.files == 3  # symlinks are not counted as files
    # The tree's file list, kept with it, is what a walk of it finds (a link to a file
    # included): a deployment filters it instead of walking the tree again.
    assert fetched.paths == tuple(treeio.tree_files(fetched.root))
    assert {"run.sh", "passwd"} <= set(fetched.paths)


@pytest.mark.parametrize(
    ("commit", "branch", "subdirectory", "message"),
    [
        ("0" * 40, "main", "", "commit 0000000000000000000000000000000000000000 does not exist"),
        (None, "nope", "", "branch nope does not exist"),
        (None, "main", "missing", "subdirectory 'missing' does not exist"),
        (None, "main", "../outside", "is not inside the repository"),
    ],
)
async def test_what_cannot_be_fetched_is_said_plainly(
    tmp_path: Path,
    remote: GitRemote,
    commit: str | None,
    branch: str,
    subdirectory: str,
    message: str,
) -> None:
    with pytest.raises(FetchError, match=message.replace("(", r"\(")):
        await GitMirrors(tmp_path / "cache").fetch(
            spec_for(remote),
            commit=commit,
            branch=branch,
            subdirectory=subdirectory,
            dest=tmp_path / "out",
            token=None,
        )


async def test_an_unreachable_repository_is_named(tmp_path: Path) -> None:
    spec = RepositorySpec(name="x/y", url=(tmp_path / "nowhere.git").as_uri())
    with pytest.raises(FetchError, match="git clone failed"):
        await GitMirrors(tmp_path / "cache").fetch(
            spec, commit=None, branch="main", subdirectory="", dest=tmp_path / "o", token=None
        )


async def test_github_tarballs_give_the_same_tree_as_git(
    tmp_path: Path, remote: GitRemote, github_sim: Any
) -> None:
    github_sim.token = "ghp_t"
    github_sim.repo("alice/home").git_dir = remote.bare
    spec = spec_for(remote, provider="github", api_url=github_sim.base_url)
    github = GitHubTarballs(tmp_path / "gh")

    via_api = await github.fetch(
        spec, commit=None, branch="main", subdirectory="ha", dest=tmp_path / "api", token="ghp_t"
    )
    via_git = await GitMirrors(tmp_path / "cache").fetch(
        spec, commit=None, branch="main", subdirectory="ha", dest=tmp_path / "git", token=None
    )
    assert via_api.commit == via_git.commit == remote.head()
    assert listing(tmp_path / "api") == listing(tmp_path / "git")
    # What a person types for a manual deploy is recorded as the exact commit.
    short = await github.fetch(
        spec,
        commit=remote.head()[:7],
        branch="main",
        subdirectory="ha",
        dest=tmp_path / "short",
        token="ghp_t",
    )
    assert short.commit == remote.head()
    with pytest.raises(FetchError, match="has no commit, branch or tag 'fffffff'"):
        await github.fetch(
            spec,
            commit="fffffff",
            branch="main",
            subdirectory="",
            dest=tmp_path / "y",
            token="ghp_t",
        )
    with pytest.raises(FetchError, match="answered 401"):
        await github.fetch(
            spec, commit=None, branch="main", subdirectory="", dest=tmp_path / "x", token="wrong"
        )


async def test_a_commit_is_downloaded_from_github_once_for_every_target(
    tmp_path: Path, remote: GitRemote, github_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push's targets fetch its full commit together: one download between them, and
    none for a later deployment or drift check of the same commit. The tree is walked for
    its file list once, too: each target filters that list."""
    walks: list[Path] = []
    walk = treeio.tree_files

    def counted(root: Path) -> list[str]:
        walks.append(root)
        return walk(root)

    monkeypatch.setattr(treeio, "tree_files", counted)
    github_sim.repo("alice/home").git_dir = remote.bare
    spec = spec_for(remote, provider="github", api_url=github_sim.base_url)
    github = GitHubTarballs(tmp_path / "gh")
    head = remote.head()

    def tarballs() -> list[str]:
        return [path for _, path, _ in github_sim.requests if "/tarball/" in path]

    async def fetch(dest: str, commit: str | None, subdirectory: str = "ha") -> Any:
        return await github.fetch(
            spec,
            commit=commit,
            branch="main",
            subdirectory=subdirectory,
            dest=tmp_path / dest / "tree",
            token=None,
        )

    fetched = await asyncio.gather(*(fetch(f"t{n}", head) for n in range(5)))
    assert tarballs() == [f"/repos/alice/home/tarball/{head}"]
    assert {f.commit for f in fetched} == {head}
    assert all(listing(f.root) == listing(fetched[0].root) for f in fetched)
    assert listing(fetched[0].root) == {
        "configuration.yaml": "homeassistant:\n",
        "automations.yaml": "[]\n",
    }
    assert len(walks) == 1
    assert {f.paths for f in fetched} == {("automations.yaml", "configuration.yaml")}
    # A drift check names the branch: one small request for its head, no download.
    asked = len(github_sim.requests)
    again = await fetch("drift", None)
    assert again.commit == head and len(tarballs()) == 1
    assert [path for _, path, _ in github_sim.requests[asked:]] == [
        "/repos/alice/home/git/ref/heads/main"
    ]
    # Another subdirectory is a tree of its own.
    nginx = await fetch("nginx", head, subdirectory="nginx")
    assert listing(nginx.root) == {"site.conf": "server {}\n"} and len(tarballs()) == 2
    # Newer commits are one download each; a tree a deployment still reads is kept.
    for n in range(treecache.TREES_KEPT + 1):
        remote.commit({"ha/automations.yaml": f"- id: a{n}\n  alias: a{n}\n"})
        newer = await fetch("newer", remote.push())
        assert listing(newer.root)["automations.yaml"].startswith(f"- id: a{n}")
    assert len(tarballs()) == 2 + treecache.TREES_KEPT + 1
    assert listing(fetched[1].root)["automations.yaml"] == "[]\n"


async def test_a_github_tarball_is_spooled_in_chunks_never_held_whole(
    tmp_path: Path, remote: GitRemote, github_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(3 * treeio.CHUNK).hex()  # about 3 MiB once gzipped: several chunks
    remote.commit({"ha/www/big.txt": big})
    remote.push()
    github_sim.repo("alice/home").git_dir = remote.bare
    spec = spec_for(remote, provider="github", api_url=github_sim.base_url)
    whole = Response.content

    def content_unless_a_tarball(response: Response[Any]) -> bytes:
        assert "tar.gz" not in str(response.url), "the tarball was read whole into memory"
        return whole.fget(response)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(Response, "content", property(content_unless_a_tarball))
    writes: list[int] = []
    real_spool = githubsource._spool

    async def counting_spool(response: Response[Any], spool: Any) -> None:
        await real_spool(response, _CountingWrites(spool.write, writes))  # type: ignore[arg-type]

    monkeypatch.setattr(githubsource, "_spool", counting_spool)
    work = tmp_path / "work"
    cache = tmp_path / "gh"
    fetched = await GitHubTarballs(cache).fetch(
        spec, commit=None, branch="main", subdirectory="ha", dest=work / "api", token=None
    )
    assert (work / "api" / "www" / "big.txt").read_text() == big
    assert fetched.files == 3
    assert len(writes) > 1 and max(writes) <= treeio.CHUNK
    assert sorted(p.name for p in work.iterdir()) == ["api"]  # no spool file left
    (kept,) = cache.iterdir()
    assert sorted(p.name for p in kept.iterdir()) == [fetched.commit, f"{fetched.commit}.json"]


class _CountingWrites:
    def __init__(self, write: Any, sizes: list[int]) -> None:
        self._write, self._sizes = write, sizes

    def write(self, data: bytes) -> int:
        self._sizes.append(len(data))
        result: int = self._write(data)
        return result


async def test_the_simulator_records_commit_statuses_like_github(
    remote: GitRemote, github_sim: Any
) -> None:
    github_sim.repo("alice/home").git_dir = remote.bare
    async with GitHub(
        TokenAuthStrategy("t"), base_url=github_sim.base_url, http_cache=False
    ) as github:
        response = await github.rest.repos.async_create_commit_status(
            "alice",
            "home",
            remote.head(),
            state="success",
            context="hearth/ha",
            description="Deployed",
            target_url="http://hearth.local/deployments/1",
        )
    assert response.status_code == 201
    assert response.parsed_data.state == "success"
    (status,) = github_sim.repo("alice/home").statuses
    assert (status["sha"], status["context"]) == (remote.head(), "hearth/ha")


async def test_gits_housekeeping_ends_with_the_fetch_that_started_it(
    tmp_path: Path, remote: GitRemote
) -> None:
    """A fetch that crosses Git's housekeeping thresholds starts `git gc --auto`. Detached
    (Git's default) it outlived the fetch: it repacked and rewrote refs while the next
    deployment fetched into the same mirror, and was left running when Hearth stopped."""
    mirrors = GitMirrors(tmp_path / "cache")
    spec = spec_for(remote)
    await mirrors.resolve(spec, commit=None, branch="main")
    (mirror,) = (tmp_path / "cache").glob("*.git")
    # Every fetch keeps its pack, and more than one pack calls for housekeeping.
    git(mirror, "config", "fetch.unpackLimit", "1")
    git(mirror, "config", "gc.autoPackLimit", "1")
    packs = sorted((mirror / "objects" / "pack").glob("*.pack"))
    for n in range(2):
        remote.commit({f"ha/new-{n}.yaml": f"n: {n}\n"})
        remote.push()
        await mirrors.resolve(spec, commit=None, branch="main")
        packs = sorted((mirror / "objects" / "pack").glob("*.pack"))
        assert not (mirror / "gc.pid").exists()  # no gc running, here or detached
    assert len(packs) == 1  # the second fetch's housekeeping packed all, before returning
    left = [p.info for p in psutil.process_iter(["pid", "cmdline", "cwd"]) if _in(p, mirror)]
    assert left == []
    assert git(mirror, "rev-parse", "refs/heads/main") == remote.head()


def _in(process: psutil.Process, folder: Path) -> bool:
    cwd = process.info.get("cwd")
    return cwd is not None and Path(cwd).is_relative_to(folder)
