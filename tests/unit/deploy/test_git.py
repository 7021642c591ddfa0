"""``odoo_ops.deploy.git`` against real git repositories in tmp_path.

A bare "origin", a "seed" clone that publishes commits, and the deployed
"project" clone; no mocks.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_ops.deploy.git import GitError, GitRepo
from tests.support.git import git


@dataclass
class Repos:
    origin: Path
    seed: Path
    project: Path

    def publish(self, name: str, text: str = "x\n") -> str:
        """A new commit on origin/main (from the seed clone); returns its sha."""
        (self.seed / name).write_text(text)
        git(self.seed, "add", name)
        git(self.seed, "commit", "-qm", f"add {name}")
        git(self.seed, "push", "-q", "origin", "HEAD:main")
        return git(self.seed, "rev-parse", "HEAD")

    def commit_in_project(self, name: str) -> str:
        (self.project / name).write_text("local\n")
        git(self.project, "add", name)
        git(self.project, "commit", "-qm", f"local {name}")
        return git(self.project, "rev-parse", "HEAD")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "remote", "add", "origin", str(origin))
    (seed / "README").write_text("v1\n")
    git(seed, "add", "README")
    git(seed, "commit", "-qm", "initial")
    git(seed, "push", "-q", "-u", "origin", "main")
    project = tmp_path / "project"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(project))
    return Repos(origin, seed, project)


def repo_of(path: Path) -> GitRepo:
    found = GitRepo.find(path)
    assert found is not None
    return found


def test_find_outside_a_repository_is_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert GitRepo.find(plain) is None


def test_find_from_a_subdirectory_gives_the_top(repos: Repos) -> None:
    sub = repos.project / "addons" / "shop"
    sub.mkdir(parents=True)
    assert repo_of(sub).path.resolve() == repos.project.resolve()


def test_preflight_fast_forwards_to_the_upstream(repos: Repos) -> None:
    repo = repo_of(repos.project)
    before = repo.head()
    new = repos.publish("feature.txt")
    current, wanted = repo.preflight(None)
    assert (current, wanted) == (before, new)
    # preflight only looks: nothing moved yet
    assert repo.head() == before
    repo.fast_forward(wanted)
    assert repo.head() == new
    assert (repos.project / "feature.txt").read_text() == "x\n"


def test_preflight_at_the_upstream_already_is_a_no_op(repos: Repos) -> None:
    repo = repo_of(repos.project)
    head = repo.head()
    assert repo.preflight(None) == (head, head)


def test_no_upstream_and_no_ref_is_a_clear_error(repos: Repos) -> None:
    git(repos.project, "checkout", "-q", "-b", "hotfix")  # a local branch: no upstream
    repo = repo_of(repos.project)
    with pytest.raises(GitError) as info:
        repo.preflight(None)
    assert "no upstream" in info.value.message
    assert info.value.hint == "pass --ref REF"
    # with a ref it works from the same branch
    new = repos.publish("later.txt")
    assert repo.preflight("origin/main")[1] == new


def test_detached_head_without_ref_is_a_clear_error(repos: Repos) -> None:
    head = git(repos.project, "rev-parse", "HEAD")
    git(repos.project, "checkout", "-q", "--detach", head)
    with pytest.raises(GitError) as info:
        repo_of(repos.project).preflight(None)
    assert "no upstream" in info.value.message


def test_ref_behind_head_is_refused_as_only_moving_forward(repos: Repos) -> None:
    old = git(repos.project, "rev-parse", "HEAD")
    new = repos.publish("feature.txt")
    repo = repo_of(repos.project)
    repo.fast_forward(repo.preflight(None)[1])
    assert repo.head() == new
    with pytest.raises(GitError) as info:
        repo.preflight(old)
    message = info.value.message
    assert "only moves forward" in message
    assert old[:12] in message and new[:12] in message
    assert info.value.hint is not None and "rollback" in info.value.hint
    assert repo.head() == new


def test_unknown_ref_is_named(repos: Repos) -> None:
    repo = repo_of(repos.project)
    with pytest.raises(GitError) as info:
        repo.preflight("v9.9-does-not-exist")
    assert info.value.message == "unknown git ref 'v9.9-does-not-exist'"
    # a sha that is not in the repository either
    with pytest.raises(GitError, match="unknown git ref"):
        repo.preflight("0" * 40)


def test_a_tag_and_a_sha_resolve_to_their_commit(repos: Repos) -> None:
    new = repos.publish("tagged.txt")
    git(repos.seed, "tag", "-a", "v1.1", "-m", "v1.1")  # an annotated tag: peeled to the commit
    git(repos.seed, "push", "-q", "origin", "v1.1")
    repo = repo_of(repos.project)
    git(repos.project, "fetch", "-q", "--tags", "origin")
    assert repo.preflight("v1.1")[1] == new
    assert repo.preflight(new[:10], fetch=False)[1] == new


def test_diverged_branch_is_refused(repos: Repos) -> None:
    local = repos.commit_in_project("local.txt")
    repos.publish("remote.txt")
    repo = repo_of(repos.project)
    with pytest.raises(GitError) as info:
        repo.preflight(None)
    assert "diverged" in info.value.message
    assert repo.head() == local


def test_local_changes_are_refused_before_fetching(repos: Repos) -> None:
    (repos.project / "README").write_text("hacked on the server\n")
    new = repos.publish("feature.txt")
    repo = repo_of(repos.project)
    with pytest.raises(GitError) as info:
        repo.preflight(None)
    assert "local changes" in info.value.message and "README" in info.value.message
    # refused before anything else: not even fetched
    assert git(repos.project, "rev-parse", "origin/main") != new


def test_staged_changes_block_untracked_files_do_not(repos: Repos) -> None:
    (repos.project / "notes.txt").write_text("untracked\n")
    repo = repo_of(repos.project)
    assert repo.local_changes() == []
    head = repo.head()
    assert repo.preflight(None) == (head, head)
    git(repos.project, "add", "notes.txt")
    assert repo.local_changes() == ["notes.txt"]
    with pytest.raises(GitError, match="local changes"):
        repo.preflight(None)


def test_no_fetch_deploys_what_is_already_fetched(repos: Repos) -> None:
    repo = repo_of(repos.project)
    head = repo.head()
    repos.publish("feature.txt")
    # without fetch origin/main is still the old commit: nothing to move to
    assert repo.preflight(None, fetch=False) == (head, head)


def test_reset_to_goes_back_and_keeps_untracked_files(repos: Repos) -> None:
    repo = repo_of(repos.project)
    old = repo.head()
    new = repos.publish("feature.txt")
    repo.fast_forward(repo.preflight(None)[1])
    assert repo.head() == new
    (repos.project / "untracked.log").write_text("keep me\n")
    repo.reset_to(old)
    assert repo.head() == old
    assert not (repos.project / "feature.txt").exists()
    assert (repos.project / "untracked.log").read_text() == "keep me\n"


def test_reset_to_refuses_to_drop_local_changes_of_changed_files(repos: Repos) -> None:
    repo = repo_of(repos.project)
    old = repo.head()
    new = repos.publish("feature.txt", "v1\n")
    repo.fast_forward(repo.preflight(None)[1])
    (repos.project / "feature.txt").write_text("edited on the server\n")
    with pytest.raises(GitError):
        repo.reset_to(old)
    assert repo.head() == new
    assert (repos.project / "feature.txt").read_text() == "edited on the server\n"


def test_fetch_honours_the_users_git_config(repos: Repos, tmp_path: Path) -> None:
    """The user's ~/.gitconfig (url rewrites, credential helpers, safe.directory)
    applies to the deploy's git calls as it does to the user's own ones."""
    home = Path(os.environ["HOME"])  # an isolated temporary HOME (tests/conftest.py)
    (home / ".gitconfig").write_text(f'[url "{repos.origin}"]\n\tinsteadOf = deploy-origin:\n')
    git(repos.project, "remote", "set-url", "origin", "deploy-origin:")
    new = repos.publish("feature.txt")
    repo = repo_of(repos.project)
    assert repo.preflight(None)[1] == new


def test_git_errors_are_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    repo = GitRepo(plain)  # not a repository: every call fails cleanly
    with pytest.raises(GitError) as info:
        repo.head()
    assert "\n" not in info.value.message
    assert info.value.message.startswith("git rev-parse HEAD:")


def test_a_failing_fetch_says_why(repos: Repos, tmp_path: Path) -> None:
    missing = tmp_path / "gone.git"
    git(repos.project, "remote", "set-url", "origin", str(missing))
    with pytest.raises(GitError) as info:
        repo_of(repos.project).preflight(None)
    # git's own reason, not the last line of its advice text
    assert "does not appear to be a git repository" in info.value.message
    assert str(missing) in info.value.message


def test_git_dir_of_the_caller_does_not_redirect(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a git hook of another repository, GIT_DIR must not leak in."""
    monkeypatch.setenv("GIT_DIR", str(repos.seed / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repos.seed))
    repos.publish("seed-only.txt")
    repo = GitRepo(repos.project)
    assert (
        repo.head()
        == subprocess.run(
            [
                "git",
                "-C",
                str(repos.project),
                "--git-dir",
                str(repos.project / ".git"),
                "rev-parse",
                "HEAD",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    assert repo.head() != git(repos.seed, "rev-parse", "HEAD")
