"""The project's git repository as a deploy sees it.

A deploy only ever fast-forwards: it refuses to run over local changes or a
diverged branch, before anything else changes. Rolling back moves the branch
back to the recorded commit (``git reset --keep``, which also refuses to drop
local changes).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from odoo_ops import childproc
from odoo_ops.errors import OpsError


class GitError(OpsError):
    pass


def _git(repo: Path, *args: str, timeout: float = 120) -> str:
    try:
        proc = childproc.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} gave no answer within {timeout:g}s") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])}: {_reason(proc.stderr or proc.stdout)}")
    # trailing whitespace only: `status --porcelain` lines start with a space
    return proc.stdout.rstrip()


def _reason(output: str) -> str:
    """git's reason for failing: its first fatal/error line (the last lines are advice)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[0] if lines else "failed"


# variables that would point git at another repository or work tree than ours
_GIT_REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


def _env() -> dict[str, str]:
    """The caller's environment (HOME for ~/.gitconfig, SSH_AUTH_SOCK, proxies),
    without variables that redirect git, in the C locale and never prompting."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARS}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


@dataclass
class GitRepo:
    path: Path

    @classmethod
    def find(cls, path: Path) -> GitRepo | None:
        try:
            top = _git(path, "rev-parse", "--show-toplevel")
        except GitError:
            return None
        return cls(Path(top))

    def head(self) -> str:
        return _git(self.path, "rev-parse", "HEAD")

    def branch(self) -> str | None:
        name = _git(self.path, "rev-parse", "--abbrev-ref", "HEAD")
        return None if name == "HEAD" else name

    def local_changes(self) -> list[str]:
        """Tracked files changed or staged (untracked files do not block a deploy)."""
        out = _git(self.path, "status", "--porcelain", "--untracked-files=no")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def fetch(self, remote: str = "origin") -> None:
        _git(self.path, "fetch", "--quiet", remote, timeout=300)

    def resolve(self, ref: str) -> str:
        try:
            return _git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            raise GitError(f"unknown git ref {ref!r}") from None

    def is_ancestor(self, older: str, newer: str) -> bool:
        proc = childproc.run(
            ["git", "-C", str(self.path), "merge-base", "--is-ancestor", older, newer],
            capture_output=True,
            text=True,
            env=_env(),
        )
        return proc.returncode == 0

    def upstream_ref(self) -> str:
        try:
            return _git(self.path, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}")
        except GitError:
            raise GitError(
                "the branch has no upstream to deploy from", hint="pass --ref REF"
            ) from None

    def preflight(self, ref: str | None, *, fetch: bool = True) -> tuple[str, str]:
        """Check that HEAD can fast-forward to ``ref``; return (current, target) commits.

        Refuses local changes and a diverged branch: nothing has changed yet
        when this raises.
        """
        changes = self.local_changes()
        if changes:
            shown = ", ".join(changes[:5]) + (" …" if len(changes) > 5 else "")
            raise GitError(
                f"local changes in the project would be overwritten: {shown}",
                hint="commit or stash them, then deploy again",
            )
        if fetch:
            self.fetch()
        current = self.head()
        wanted = self.resolve(ref or self.upstream_ref())
        if not self.is_ancestor(current, wanted):
            if self.is_ancestor(wanted, current):
                raise GitError(
                    f"{ref or 'upstream'} ({wanted[:12]}) is behind the deployed commit"
                    f" {current[:12]}: a deploy only moves forward",
                    hint="use `odoo-ops rollback` to go back",
                )
            raise GitError(
                f"the deployed branch has diverged from {ref or 'upstream'}"
                f" ({current[:12]} vs {wanted[:12]}): refusing to deploy",
                hint="reconcile the branch by hand (no fast-forward possible)",
            )
        return current, wanted

    def fast_forward(self, commit: str) -> None:
        _git(self.path, "merge", "--ff-only", "--quiet", commit)

    def reset_to(self, commit: str) -> None:
        """Move the branch (and the work tree) back to ``commit``."""
        _git(self.path, "reset", "--keep", "--quiet", commit)
