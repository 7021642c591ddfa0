"""``ssh://user@host:port/path`` (or ``sftp://``): a host reached with the system's OpenSSH.

Two ways of talking to it, chosen by a probe (or the ``method`` option):

- **rsync** — the remote runs commands (a shell with ``rsync`` and
  ``sha256sum``): files go with ``rsync -a --partial`` over ssh (a re-run
  sends only what is missing), the copy is verified by the SHA-256 computed
  on the remote (``openssl dgst -sha256`` where it is installed, else
  ``sha256sum``) of each file as it lands, compared with the manifest here,
  then renamed into place;
- **sftp** — an sftp-only account (``ForceCommand internal-sftp``, storage
  boxes): files go with ``sftp -b`` under ``NAME.tmp`` then renamed, files
  already there with the right size are not sent again, and the copy is
  verified by downloading and hashing it.

Either way the upload lands in ``ROOT/.NAME.partial/`` and the rename to
``ROOT/NAME`` comes last. The options: ``identity_file``, ``known_hosts``
(a known_hosts file; host keys are always checked), ``ssh_options`` (a list of
``-o`` settings), ``method`` (``auto``, ``rsync``, ``sftp``), ``timeout``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from odoo_ops import childproc
from odoo_ops.backup.layout import (
    MANIFEST,
    MAX_METADATA_BYTES,
    PARTIAL_SUFFIX,
    STATUS,
    SUMS,
    BackupEntry,
    sha256_file,
)
from odoo_ops.backup.remotes.base import (
    ProgressFn,
    PushResult,
    Remote,
    RemoteCopy,
    RemoteError,
    WantedFile,
    copy_from_manifest,
)
from odoo_ops.names import check_backup_name, check_relative, path_under
from odoo_ops.secrets import redact_text

_MARK = "==odoo-ops-copy=="
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/~+-]+")


class SshRemote(Remote):
    kind = "ssh"

    def __init__(
        self,
        name: str,
        display: str,
        *,
        host: str,
        user: str | None,
        port: int | None,
        root: str,
        options: dict[str, Any],
    ) -> None:
        super().__init__(name, display)
        if not _SAFE_PATH.fullmatch(root):
            raise RemoteError(
                f"remote {name}: the path {root!r} has characters odoo-ops does not send over ssh",
                hint="use letters, digits and . _ - / ~ + in the remote path",
            )
        self.host = host
        self.user = user
        self.port = port
        self.root = root.rstrip("/") or "/"
        self.options = options
        self.timeout = float(options.get("timeout", 600))
        self._method: str | None = None
        wanted = str(options.get("method", "auto"))
        if wanted not in ("auto", "rsync", "sftp"):
            raise RemoteError(f"remote {name}: method must be auto, rsync or sftp, not {wanted!r}")
        if wanted != "auto":
            self._method = wanted
        # one ssh connection for the whole run (probe, rsync/sftp, sha256sum, rename)
        self._control: str | None = None
        if options.get("multiplex", True):
            self._control = tempfile.mkdtemp(prefix="odoo-ops-ssh-")
            atexit.register(self.close)

    def close(self) -> None:
        """Stop the shared connection (``ssh -O exit``) and remove its socket directory."""
        control, self._control = self._control, None
        if control is None:
            return
        socket_path = f"{control}/cm"
        if os.path.exists(socket_path):
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                childproc.run(
                    ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", self.destination],
                    capture_output=True, stdin=subprocess.DEVNULL, timeout=10,
                )  # fmt: skip
        shutil.rmtree(control, ignore_errors=True)

    # -- the ssh command line ------------------------------------------------

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def _common(self) -> list[str]:
        out = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
        known = self.options.get("known_hosts")
        if known:
            out += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
        identity = self.options.get("identity_file")
        if identity:
            out += ["-o", "IdentitiesOnly=yes", "-i", str(identity)]
        for opt in self.options.get("ssh_options") or []:
            out += ["-o", str(opt)]
        if self._control is not None:
            out += [
                "-o", "ControlMaster=auto", "-o", f"ControlPath={self._control}/cm",
                "-o", "ControlPersist=60",
            ]  # fmt: skip
        return out

    def ssh_argv(self) -> list[str]:
        argv = ["ssh", *self._common()]
        if self.port:
            argv += ["-p", str(self.port)]
        return argv

    def _sftp_argv(self, bwlimit: int | None = None) -> list[str]:
        argv = ["sftp", "-q", *self._common()]
        if self.port:
            argv += ["-P", str(self.port)]
        if bwlimit:
            argv += ["-l", str(bwlimit * 8)]  # sftp takes Kbit/s, --bwlimit is KiB/s
        return [*argv, "-b", "-", self.destination]

    def _fail(self, what: str, proc: subprocess.CompletedProcess[Any]) -> RemoteError:
        err = (
            proc.stderr
            if isinstance(proc.stderr, str)
            else (proc.stderr or b"").decode("utf-8", "replace")
        )
        lines = [ln for ln in err.strip().splitlines() if ln and not ln.startswith("sftp>")]
        detail = redact_text(lines[-1]) if lines else f"exit status {proc.returncode}"
        hint = None
        if "Permission denied" in err or "Host key verification failed" in err:
            hint = "check identity_file and known_hosts of the remote in odoo-ops.toml"
        return RemoteError(f"remote {self.name}: {what}: {detail}", hint=hint)

    def _run(
        self, script: str, what: str, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = childproc.run(
                [*self.ssh_argv(), self.destination, script],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(
                f"remote {self.name}: {what}: no answer in {self.timeout:g}s"
            ) from None
        except FileNotFoundError:
            raise RemoteError(
                "ssh is not installed", hint="apt-get install openssh-client"
            ) from None
        if check and proc.returncode != 0:
            raise self._fail(what, proc)
        return proc

    def _sftp(
        self, commands: list[str], what: str, *, bwlimit: int | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = childproc.run(
                self._sftp_argv(bwlimit),
                input="\n".join(commands) + "\n",
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(
                f"remote {self.name}: {what}: no answer in {self.timeout:g}s"
            ) from None
        if check and proc.returncode != 0:
            raise self._fail(what, proc)
        return proc

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.root != "/" else "/" + "/".join(parts)

    # -- which way --------------------------------------------------------------

    @property
    def method(self) -> str:
        if self._method is None:
            proc = self._run(
                f"echo {_MARK}; command -v rsync; command -v sha256sum", "probe", check=False
            )
            if _MARK not in proc.stdout:
                if proc.returncode == 255:
                    raise self._fail("cannot connect", proc)
                self._method = "sftp"  # no shell: an sftp-only account
            else:
                tools = proc.stdout
                self._method = "rsync" if "rsync" in tools and "sha256sum" in tools else "sftp"
        return self._method

    def check(self) -> str:
        if self.method == "rsync":
            self._run(
                f"mkdir -p {shlex.quote(self.root)} && test -w {shlex.quote(self.root)}",
                f"cannot use {self.root}",
            )
        else:
            self._sftp([f'-mkdir "{self.root}"', f'cd "{self.root}"'], f"cannot use {self.root}")
        return f"{self.destination}:{self.root} via {self.method}"

    # -- list / read ------------------------------------------------------------

    def copies(self) -> list[RemoteCopy]:
        self.check()
        if self.method == "rsync":
            root = shlex.quote(self.root)
            proc = self._run(
                f'cd {root} && for d in *; do [ -f "$d/{MANIFEST}" ] || continue;'
                f' printf \'\\n{_MARK} %s\\n\' "$d"; head -c {MAX_METADATA_BYTES} "$d/{MANIFEST}";'
                " done",
                "cannot list",
            )
            copies = []
            for block in proc.stdout.split(f"\n{_MARK} ")[1:]:
                name, _, body = block.partition("\n")
                if _plain(name):
                    copies.append(copy_from_manifest(name, body.encode()))
            return copies
        names = [n for n in self._ls(self.root) if _plain(n) and not n.startswith(".")]
        with tempfile.TemporaryDirectory(prefix="odoo-ops-sftp-") as tmp:
            self._sftp(
                [f'-get "{self._path(n, MANIFEST)}" "{tmp}/{n}.json"' for n in names],
                "cannot read manifests",
                check=False,
            )
            out = []
            for n in names:
                path = Path(tmp) / f"{n}.json"
                if path.is_file():
                    out.append(copy_from_manifest(n, path.read_bytes()[:MAX_METADATA_BYTES]))
            return out

    def _ls(self, path: str) -> list[str]:
        proc = self._sftp([f'ls -1a "{path}"'], f"cannot list {path}", check=False)
        if proc.returncode != 0:
            return []
        return [
            ln.strip().rsplit("/", 1)[-1]
            for ln in proc.stdout.splitlines()
            if ln.strip()
            and not ln.startswith("sftp>")
            and ln.strip().rsplit("/", 1)[-1] not in (".", "..")
        ]

    def _sizes(self, path: str) -> dict[str, int]:
        """``{file name: size}`` of the regular files of one remote directory (sftp)."""
        proc = self._sftp([f'ls -ln "{path}"'], f"cannot list {path}", check=False)
        out: dict[str, int] = {}
        if proc.returncode != 0:
            return out
        for line in proc.stdout.splitlines():
            fields = line.split(None, 8)
            if len(fields) == 9 and fields[0].startswith("-") and fields[4].isdigit():
                out[fields[8].rsplit("/", 1)[-1]] = int(fields[4])
        return out

    def read_file(self, name: str, rel: str) -> bytes | None:
        rel = check_relative(rel, "file")
        check_backup_name(name)
        if self.method == "rsync":
            proc = self._run(
                f"head -c {MAX_METADATA_BYTES} {shlex.quote(self._path(name, rel))}",
                "read",
                check=False,
            )
            return proc.stdout.encode() if proc.returncode == 0 else None
        with tempfile.TemporaryDirectory(prefix="odoo-ops-sftp-") as tmp:
            local = Path(tmp) / "file"
            proc = self._sftp([f'get "{self._path(name, rel)}" "{local}"'], "read", check=False)
            return local.read_bytes() if proc.returncode == 0 and local.is_file() else None

    # -- push ---------------------------------------------------------------------

    def push(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        *,
        bwlimit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> PushResult:
        start = time.monotonic()
        partial = f".{entry.name}{PARTIAL_SUFFIX}"
        if self.method == "rsync":
            return self._push_rsync_verified(entry, files, partial, bwlimit, start)
        self.check()
        result = PushResult(self.name, entry.name, method=self.method)
        result.bytes_total = sum(f.size for f in files)
        if self.has(entry.name):
            result.already_there = True
            return result
        self._push_sftp(entry, files, partial, bwlimit, result, progress)
        problems = self._download_sums(partial, files)
        if problems:
            raise RemoteError(
                f"remote {self.name}: {entry.name} arrived damaged: {'; '.join(problems[:3])}",
                hint="run the push again",
            )
        result.verified = True
        self._publish(partial, entry.name)
        result.seconds = round(time.monotonic() - start, 3)
        return result

    def _push_rsync_verified(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        partial: str,
        bwlimit: int | None,
        start: float,
    ) -> PushResult:
        """rsync with the verification overlapped: one extra ssh session, no second pass.

        One remote session (:meth:`_start_session`) checks that the root is usable
        and that the copy is not there yet, creates ``.NAME.partial``, notes the
        files already in it (an earlier run's), then hashes each other file as soon
        as rsync renames it into place — while the next file is still in flight —
        with ``openssl dgst -sha256`` where the remote has it (SHA extensions:
        several times faster than coreutils' ``sha256sum``), else ``sha256sum``.
        When rsync is done it hashes the earlier run's files (rsync may have
        rewritten them), prints every sum, and renames the copy into place only
        when told to, after the sums were compared here with the manifest.
        """
        result = PushResult(self.name, entry.name, method="rsync")
        result.bytes_total = sum(f.size for f in files)
        session = self._start_session(entry.name, partial, files)
        try:
            # rsync starts at once, beside the session; its remote side checks for
            # itself that the copy is not there before it writes anything
            stopped: RemoteError | None = None
            try:
                self._push_rsync(entry, partial, bwlimit, result, guard=entry.name)
            except RemoteError as exc:
                stopped = exc
            if not self._session_ready(session):
                result.already_there = True
                return result
            if stopped is not None:
                raise stopped
            got = self._session_sums(session)
            problems: list[str] = []
            for wanted in files:
                if wanted.rel not in got:
                    problems.append(f"{wanted.rel}: missing")
                elif got[wanted.rel] != wanted.sha256:
                    problems.append(f"{wanted.rel}: altered (sha256 differs from the manifest)")
            if not problems:
                self._session_publish(session, entry.name)
        finally:
            if session.poll() is None:
                session.kill()
                session.wait()
        if problems:
            part = shlex.quote(self._path(partial))
            bad = " ".join(shlex.quote(p.split(":", 1)[0]) for p in problems)
            # drop what arrived damaged so that the next run sends it again
            self._run(f"cd {part} && rm -f -- {bad}", "cleanup", check=False)
            raise RemoteError(
                f"remote {self.name}: {entry.name} arrived damaged: {'; '.join(problems[:3])}",
                hint="run the push again",
            )
        result.verified = True
        result.seconds = round(time.monotonic() - start, 3)
        return result

    def _start_session(
        self, name: str, partial: str, files: list[WantedFile]
    ) -> subprocess.Popen[str]:
        """The remote side of a push (see :meth:`_push_rsync_verified`). Its protocol:
        it prints ``_MARK`` once ready (``_MARK there`` when the copy is), then
        ``.`` lines while waiting and hash lines; a line on its stdin says rsync is
        done (it then hashes the earlier run's files and prints ``_MARK done``); a
        ``publish`` line renames the copy into place (``_MARK published``)."""
        rels = " ".join(shlex.quote(f.rel) for f in files)
        root = shlex.quote(self.root)
        final = shlex.quote(self._path(name))
        part = shlex.quote(self._path(partial))
        wait = max(int(self.timeout), 1)
        script = (
            f"mkdir -p {root} 2>&1 && test -w {root} || {{ echo cannot write {root}; exit 3; }};"
            f" test -f {final}/{MANIFEST} && {{ echo {_MARK} there; exit 4; }};"
            f" mkdir -p {part} 2>&1 && cd {part} || exit 3;"
            ' if command -v openssl >/dev/null 2>&1; then h() { openssl dgst -sha256 -r -- "$1"; };'
            ' else h() { sha256sum -- "$1"; }; fi;'
            f' pre=; for f in {rels}; do [ -e "$f" ] && pre="$pre|$f|"; done; echo {_MARK};'
            f' for f in {rels}; do case "$pre" in *"|$f|"*) continue;; esac;'
            # rsync renames a file into place once it is whole; the echo ends the
            # loop (SIGPIPE) when this side went away, timeout bounds it anyway
            ' while [ ! -f "$f" ]; do echo .; sleep 0.05; done; h "$f"; done;'
            " read go || exit 5;"
            f' for f in {rels}; do case "$pre" in *"|$f|"*) [ -f "$f" ] && h "$f";; esac; done;'
            f' echo {_MARK} done; read verdict || exit 5; [ "$verdict" = publish ] || exit 5;'
            f" cd / && test ! -e {final} && mv {part} {final} && echo {_MARK} published"
        )
        try:
            proc: subprocess.Popen[str] = childproc.ChildPopen(
                [*self.ssh_argv(), self.destination, f"timeout {wait} sh -c {shlex.quote(script)}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except FileNotFoundError:
            raise RemoteError(
                "ssh is not installed", hint="apt-get install openssh-client"
            ) from None
        return proc

    def _session_ready(self, proc: subprocess.Popen[str]) -> bool:
        """The session's first answer: True when ready, False when the copy is there."""
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
        first = proc.stdout.readline().strip() if ready else ""
        if first == _MARK:
            return True
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
        if first == f"{_MARK} there":
            return False
        if not ready:
            raise RemoteError(f"remote {self.name}: cannot use {self.root}: no answer")
        raise self._fail(
            f"cannot use {self.root}",
            subprocess.CompletedProcess(proc.args, proc.returncode, first, err + "\n" + first),
        )

    def _session_lines(self, session: subprocess.Popen[str], until: str) -> list[str]:
        """The session's lines up to ``until`` (exclusive); [] when it ended first."""
        assert session.stdout is not None
        lines: list[str] = []
        for line in session.stdout:
            line = line.rstrip("\n")
            if line == until:
                return lines
            if line != ".":
                lines.append(line)
        return []

    def _session_sums(self, session: subprocess.Popen[str]) -> dict[str, str]:
        """rsync is done: every file's sum as the remote computed it."""
        assert session.stdin is not None
        try:
            session.stdin.write("go\n")
            session.stdin.flush()
        except OSError:
            return {}
        return _parse_sums("\n".join(self._session_lines(session, f"{_MARK} done")))

    def _session_publish(self, session: subprocess.Popen[str], name: str) -> None:
        assert session.stdin is not None and session.stdout is not None
        try:
            session.stdin.write("publish\n")
            session.stdin.close()
        except OSError:
            pass
        done = any(line.strip() == f"{_MARK} published" for line in session.stdout)
        if not done:
            session.wait()
            err = session.stderr.read() if session.stderr else ""
            raise self._fail(
                f"cannot publish {name}",
                subprocess.CompletedProcess(session.args, session.returncode, "", err),
            )
        session.wait()

    def _push_rsync(
        self,
        entry: BackupEntry,
        partial: str,
        bwlimit: int | None,
        result: PushResult,
        *,
        guard: str | None = None,
    ) -> None:
        """rsync into ``partial``; with ``guard``, the remote rsync starts only when no
        copy of that name is there (and creates ``partial`` itself)."""
        argv = [
            "rsync",
            "-a",
            "--partial",
            "--stats",
            "--chmod=go-rwx",
            f"--timeout={max(int(self.timeout), 1)}",  # no data for that long: give up
            f"--exclude=/{STATUS}",
            "--exclude=/.owner",
            "-e",
            shlex.join(self.ssh_argv()),
        ]
        if bwlimit:
            argv.append(f"--bwlimit={bwlimit}")
        if guard is not None:
            final = shlex.quote(self._path(guard))
            argv.append(
                f"--rsync-path=test ! -f {final}/{MANIFEST} &&"
                f" mkdir -p {shlex.quote(self._path(partial))} && rsync"
            )
        argv += [f"{entry.path}/", f"{self.destination}:{self._path(partial)}/"]
        proc = childproc.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise self._fail(f"rsync of {entry.name} stopped", proc)
        sent = re.search(r"Total transferred file size: ([\d,.]+)", proc.stdout)
        count = re.search(r"Number of regular files transferred: ([\d,.]+)", proc.stdout)
        result.bytes_sent = int(re.sub(r"\D", "", sent.group(1))) if sent else 0
        result.files_sent = int(re.sub(r"\D", "", count.group(1))) if count else 0

    def _remote_sums(self, directory: str, files: list[WantedFile]) -> list[str]:
        """Verification on the remote: ``sha256sum`` of every file, compared here."""
        rels = " ".join(shlex.quote(f.rel) for f in files)
        proc = self._run(
            f"cd {shlex.quote(self._path(directory))} && sha256sum -- {rels}",
            "verify",
            check=False,
        )
        got = _parse_sums(proc.stdout)
        problems = []
        for wanted in files:
            if wanted.rel not in got:
                problems.append(f"{wanted.rel}: missing")
            elif got[wanted.rel] != wanted.sha256:
                problems.append(f"{wanted.rel}: altered (sha256 differs from the manifest)")
        return problems

    def _push_sftp(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        partial: str,
        bwlimit: int | None,
        result: PushResult,
        progress: ProgressFn | None,
    ) -> None:
        dirs = sorted({str(Path(f.rel).parent) for f in files} - {"."})
        self._sftp(
            [
                f'-mkdir "{self._path(partial)}"',
                *[f'-mkdir "{self._path(partial, d)}"' for d in dirs],
            ],
            f"cannot create {partial}",
        )
        there: dict[str, int] = {}
        for d in [".", *dirs]:
            sizes = self._sizes(self._path(partial) if d == "." else self._path(partial, d))
            there.update({(n if d == "." else f"{d}/{n}"): s for n, s in sizes.items()})
        commands = []
        for wanted in files:
            if there.get(wanted.rel) == wanted.size:
                result.files_skipped += 1  # sent by an earlier run: verified below
                continue
            dest = self._path(partial, wanted.rel)
            commands += [
                f'-rm "{dest}.tmp"',
                f'put "{entry.path / wanted.rel}" "{dest}.tmp"',
                f'-rm "{dest}"',
                f'rename "{dest}.tmp" "{dest}"',
            ]
            result.files_sent += 1
            result.bytes_sent += wanted.size
        if commands:
            self._sftp(commands, f"sftp upload of {entry.name} stopped", bwlimit=bwlimit)
        if progress:
            progress("upload", result.bytes_sent, result.files_sent)

    def _download_sums(self, directory: str, files: list[WantedFile]) -> list[str]:
        """Verification by downloading every file and hashing it (sftp-only remotes)."""
        with tempfile.TemporaryDirectory(prefix="odoo-ops-sftp-") as tmp:
            commands = [
                f'-get "{self._path(directory, f.rel)}" "{tmp}/{i}"' for i, f in enumerate(files)
            ]
            self._sftp(commands, "verify", check=False)
            problems = []
            for i, wanted in enumerate(files):
                local = Path(tmp) / str(i)
                if not local.is_file():
                    problems.append(f"{wanted.rel}: missing")
                    continue
                size, digest = sha256_file(local)
                local.unlink()
                if size != wanted.size:
                    problems.append(f"{wanted.rel}: {size} bytes, manifest says {wanted.size}")
                elif digest != wanted.sha256:
                    problems.append(f"{wanted.rel}: altered (sha256 differs from the manifest)")
            return problems

    def _publish(self, partial: str, name: str) -> None:
        if self.method == "rsync":
            final = shlex.quote(self._path(name))
            self._run(
                f"test ! -e {final} && mv {shlex.quote(self._path(partial))} {final}",
                f"cannot publish {name}",
            )
        else:
            self._sftp(
                [f'rename "{self._path(partial)}" "{self._path(name)}"'], f"cannot publish {name}"
            )

    # -- verify / pull / delete ---------------------------------------------------

    def verify(self, name: str, files: list[WantedFile]) -> list[str]:
        check_backup_name(name)
        if self.method == "rsync":
            return self._remote_sums(name, files)
        return self._download_sums(name, files)

    def pull(self, name: str, dest: Path, *, progress: ProgressFn | None = None) -> None:
        check_backup_name(name)
        files = self.wanted_from_remote(name)
        rels = [f.rel for f in files] + [SUMS]
        if self.method == "rsync":
            argv = [
                "rsync",
                "-a",
                "--partial",
                f"--exclude=/{STATUS}",
                "-e",
                shlex.join(self.ssh_argv()),
                f"{self.destination}:{self._path(name)}/",
                f"{dest}/",
            ]
            proc = childproc.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise self._fail(f"pulling {name} stopped", proc)
            return
        commands = []
        for rel in rels:
            local = path_under(dest, check_relative(rel, "file"))
            local.parent.mkdir(parents=True, exist_ok=True)
            commands.append(f'get "{self._path(name, rel)}" "{local}"')
        self._sftp(commands, f"pulling {name} stopped")
        if progress:
            progress("download", sum(f.size for f in files), len(rels))

    def delete(self, name: str) -> None:
        check_backup_name(name)
        doomed = f".{name}.deleting"
        if self.method == "rsync":
            self._run(
                f"cd {shlex.quote(self.root)} && {{ ! test -e {name} || mv {name} {doomed}; }}"
                f" && rm -rf {doomed}",
                f"cannot delete {name}",
            )
            return
        files = self.wanted_from_remote(name)
        self._sftp([f'rename "{self._path(name)}" "{self._path(doomed)}"'], f"cannot delete {name}")
        rels = [f.rel for f in files] + [SUMS]
        dirs = sorted({str(Path(r).parent) for r in rels} - {"."}, key=len, reverse=True)
        self._sftp(
            [f'-rm "{self._path(doomed, r)}"' for r in rels]
            + [f'-rmdir "{self._path(doomed, d)}"' for d in dirs]
            + [f'-rmdir "{self._path(doomed)}"'],
            f"cannot delete {name}",
            check=False,
        )


def _parse_sums(text: str) -> dict[str, str]:
    """``{file: sha256}`` from ``sha256sum`` output."""
    got: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\\?([0-9a-f]{64}) [ *](.+)", line)
        if match:
            got[match.group(2)] = match.group(1)
    return got


def _plain(name: str) -> bool:
    try:
        check_backup_name(name)
    except Exception:
        return False
    return True


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
