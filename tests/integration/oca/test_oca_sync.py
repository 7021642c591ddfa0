"""``oca sync`` with real git and local bare repositories as remotes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_ops.adapters.project import resolve_project
from odoo_ops.errors import ConfigError
from odoo_ops.oca import load_specs, read_lock, sync_oca
from tests.support.git import git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")



class Remote:
    """A bare repository (the 'GitHub' side) and a work tree that pushes to it."""

    def __init__(self, base: Path, name: str, branch: str = "18.0") -> None:
        self.bare = base / "remotes" / f"{name}.git"
        self.work = base / "work" / name
        self.branch = branch
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", str(self.bare)], check=True)
        self.work.mkdir(parents=True)
        git(self.work, "init", "-q", "-b", branch)
        git(self.work, "remote", "add", "origin", str(self.bare))

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def addon(self, name: str, depends: list[str] | None = None, version: str = "18.0.1.0.0",
              extra: str = "") -> str:
        d = self.work / name
        d.mkdir(exist_ok=True)
        (d / "__init__.py").write_text(extra)
        (d / "__manifest__.py").write_text(
            repr({"name": name, "version": version, "depends": depends or ["base"],
                  "license": "AGPL-3"})
        )
        return self.commit(f"{name} {version}")

    def commit(self, message: str, branch: str | None = None) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", f"HEAD:{branch or self.branch}")
        return git(self.work, "rev-parse", "HEAD")


def write_config(root: Path, repos: list[tuple[str, str]], extra: str = "") -> None:
    body = 'default_deployment = "prod"\n[deployments.prod]\nseries = "18.0"\n\n[oca]\n'
    body += 'addons_dir = "addons/oca"\n' + extra
    for name, url in repos:
        body += f'\n[[oca.repos]]\nname = "{name}"\nurl = "{url}"\n'
    (root / "odoo-ops.toml").write_text(body)


def run_sync(root: Path, **kwargs):  # type: ignore[no-untyped-def]
    project = resolve_project(root)
    specs = load_specs(project.config.oca, project.root, "18.0", {}, kwargs.pop("repos_file", None))
    return sync_oca(specs, root=project.root, lock_file=project.root / "oca.lock.json",
                    series="18.0", **kwargs)


@pytest.fixture
def two_remotes(tmp_path: Path) -> tuple[Path, Remote, Remote]:
    tools = Remote(tmp_path, "server-tools")
    tools.addon("base_tool")
    tools.addon("dup_addon")
    web = Remote(tmp_path, "web")
    web.addon("web_thing", depends=["base_tool", "web", "not_anywhere"])
    web.addon("dup_addon")
    root = tmp_path / "project"
    root.mkdir()
    write_config(root, [("server-tools", tools.url), ("web", web.url)])
    return root, tools, web


def test_clone_shallow_lock_and_report(two_remotes: tuple[Path, Remote, Remote]) -> None:
    root, tools, web = two_remotes
    result = run_sync(root, jobs=2)
    assert result.ok, [r.error for r in result.repos]
    assert {r.name: r.action for r in result.repos} == {"server-tools": "cloned", "web": "cloned"}
    checkout = root / "addons" / "oca" / "server-tools"
    assert (checkout / "base_tool" / "__manifest__.py").is_file()
    assert git(checkout, "rev-parse", "HEAD") == git(tools.work, "rev-parse", "HEAD")
    assert git(checkout, "rev-parse", "--is-shallow-repository") == "true"
    assert git(checkout, "rev-list", "--count", "HEAD") == "1"
    lock = json.loads((root / "oca.lock.json").read_text())
    assert lock["repos"]["web"]["head"] == git(web.work, "rev-parse", "HEAD")
    assert lock["repos"]["web"]["merges"][0]["ref"] == "18.0"
    assert [(c.addon, c.repos) for c in result.collisions] == [
        ("dup_addon", ["server-tools", "web"])
    ]
    assert [(m.dependency, m.needed_by) for m in result.missing] == [
        ("not_anywhere", ["web_thing"])
    ]  # web (core) and base_tool (synced) are provided
    assert result.addons == 3


def test_without_update_the_lock_is_reproduced_exactly(
    two_remotes: tuple[Path, Remote, Remote], tmp_path: Path
) -> None:
    root, tools, _web = two_remotes
    run_sync(root)
    pinned = read_lock(root / "oca.lock.json")["server-tools"].head
    newer = tools.addon("new_tool")  # upstream moves on
    # a fresh machine with only the config and the lock: same commits
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(root / "odoo-ops.toml", other / "odoo-ops.toml")
    shutil.copy(root / "oca.lock.json", other / "oca.lock.json")
    again = run_sync(other)
    assert again.ok, [r.error for r in again.repos]
    assert git(other / "addons/oca/server-tools", "rev-parse", "HEAD") == pinned
    assert not (other / "addons/oca/server-tools/new_tool").exists()
    # in place, nothing to do
    same = run_sync(root)
    assert {r.action for r in same.repos} == {"unchanged"}
    assert read_lock(root / "oca.lock.json")["server-tools"].head == pinned
    # --update moves the pin
    moved = run_sync(root, update=True)
    assert {r.name: r.action for r in moved.repos}["server-tools"] == "updated"
    assert read_lock(root / "oca.lock.json")["server-tools"].head == newer
    assert (root / "addons/oca/server-tools/new_tool").is_dir()
    # and back: the other checkout follows the new lock
    shutil.copy(root / "oca.lock.json", other / "oca.lock.json")
    follow = run_sync(other)
    assert {r.name: r.action for r in follow.repos}["server-tools"] == "reproduced"
    assert git(other / "addons/oca/server-tools", "rev-parse", "HEAD") == newer


def test_local_changes_are_not_touched(two_remotes: tuple[Path, Remote, Remote]) -> None:
    root, tools, _web = two_remotes
    run_sync(root)
    tools.addon("new_tool")
    manifest = root / "addons/oca/server-tools/base_tool/__manifest__.py"
    manifest.write_text(manifest.read_text() + "\n# local hack\n")
    result = run_sync(root, update=True)
    failed = {r.name: r for r in result.repos}["server-tools"]
    assert not failed.ok and "local changes" in (failed.error or "")
    assert "# local hack" in manifest.read_text()
    assert {r.name: r.ok for r in result.repos}["web"]  # the others still sync
    forced = run_sync(root, update=True, force=True)
    assert forced.ok and "# local hack" not in manifest.read_text()


def test_repos_yaml_with_merges_is_deterministic(tmp_path: Path) -> None:
    base = Remote(tmp_path, "server-ux")
    base.addon("ux_one")
    fork = Remote(tmp_path, "fork")
    git(fork.work, "fetch", "-q", str(base.bare), "18.0")
    git(fork.work, "reset", "-q", "--hard", "FETCH_HEAD")
    fork.addon("ux_fix", depends=["ux_one"])
    git(fork.work, "push", "-q", "origin", "HEAD:18.0-fix")
    base.addon("ux_two")  # upstream moved too
    root = tmp_path / "project"
    root.mkdir()
    write_config(root, [], extra='repos_file = "repos.yaml"\n')
    (root / "repos.yaml").write_text(
        f"""./addons/oca/server-ux:
    remotes:
        oca: {base.url}
        acme: $FORK_URL
    merges:
        - oca 18.0
        - remote: acme
          ref: 18.0-fix
    target: acme aggregated
"""
    )
    project = resolve_project(root)
    specs = load_specs(project.config.oca, root, "18.0", {"FORK_URL": fork.url})
    assert [m.ref for m in specs[0].merges] == ["18.0", "18.0-fix"]
    result = sync_oca(specs, root=root, lock_file=root / "oca.lock.json", series="18.0")
    assert result.ok, [r.error for r in result.repos]
    checkout = root / "addons/oca/server-ux"
    for addon in ("ux_one", "ux_two", "ux_fix"):
        assert (checkout / addon).is_dir(), addon
    head = read_lock(root / "oca.lock.json")["server-ux"].head
    # reproducing elsewhere gives the very same merge commit
    other = tmp_path / "other"
    other.mkdir()
    for name in ("odoo-ops.toml", "repos.yaml", "oca.lock.json"):
        shutil.copy(root / name, other / name)
    specs2 = load_specs(resolve_project(other).config.oca, other, "18.0",
                        {"FORK_URL": fork.url})
    again = sync_oca(specs2, root=other, lock_file=other / "oca.lock.json", series="18.0")
    assert again.ok
    assert git(other / "addons/oca/server-ux", "rev-parse", "HEAD") == head


def test_dry_run_prints_git_commands_only(two_remotes: tuple[Path, Remote, Remote]) -> None:
    root, _tools, _web = two_remotes
    result = run_sync(root, dry_run=True)
    assert not (root / "addons").exists() and not (root / "oca.lock.json").exists()
    commands = result.repos[0].commands
    assert any(" init -q" in c for c in commands)
    assert any("fetch -q --depth=1 origin 18.0" in c for c in commands)


def test_bad_sources_are_config_errors(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    write_config(root, [], extra='repos_file = "repos.yaml"\n')
    (root / "repos.yaml").write_text("./x:\n  remotes: {a: u}\n  merges: ['b 18.0']\n")
    with pytest.raises(ConfigError, match="unknown remote 'b'"):
        load_specs(resolve_project(root).config.oca, root, "18.0", {})
    write_config(root, [])
    with pytest.raises(ConfigError, match="no OCA repositories"):
        load_specs(resolve_project(root).config.oca, root, "18.0", {})


def test_cli_sync_and_failure_exit_code(two_remotes: tuple[Path, Remote, Remote]) -> None:
    root, _tools, _web = two_remotes
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    ok = subprocess.run([*argv, "oca", "sync", "-j", "2", "--format", "json"], cwd=root,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert {r["action"] for r in data["repos"]} == {"cloned"}
    assert data["collisions"] == [{"addon": "dup_addon", "repos": ["server-tools", "web"]}]
    write_config(root, [("server-tools", "file:///nonexistent/repo.git")])
    bad = subprocess.run([*argv, "oca", "sync", "--update"], cwd=root, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1
    assert "error: 1 repository(ies) failed: server-tools" in bad.stderr
