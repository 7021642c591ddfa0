"""Streaming plumbing: process chains, hashing file writers, filter sinks.

Nothing here holds a whole file in memory: data moves in 1 MiB chunks from
a producer (pg_dump, tarfile) through optional filter processes (``zstd``,
``age``) into a file whose size and sha256 are computed on the way.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from odoo_ops.backup.layout import CHUNK, FILE_MODE
from odoo_ops.childproc import ChildPopen
from odoo_ops.errors import OpsError, TargetError


class StreamError(OpsError):
    """A process of a backup/restore pipeline failed."""


@dataclass
class FileDigest:
    size: int
    sha256: str


class HashingWriter:
    """A new file (mode 0600, must not exist) that hashes what is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._fh = os.fdopen(fd, "wb", buffering=0)
        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._hash.update(view)
        self.size += len(view)
        written = 0
        while written < len(view):
            written += self._fh.write(view[written:]) or 0
        return len(view)

    def flush(self) -> None:
        pass

    def close(self) -> FileDigest:
        if not self.closed:
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.closed = True
        return FileDigest(self.size, self._hash.hexdigest())

    def abort(self) -> None:
        if not self.closed:
            self._fh.close()
            self.closed = True


def copy_to_writer(stream: IO[bytes], writer: HashingWriter) -> None:
    while True:
        block = stream.read(CHUNK)
        if not block:
            break
        writer.write(block)


class _StderrTail:
    """Keeps the last few KiB of a process's stderr (read by a thread)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.data = b""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in iter(lambda: self._stream.readline(), b""):
            self.data = (self.data + line)[-8192:]

    def text(self) -> str:
        self._thread.join(timeout=5)
        return self.data.decode("utf-8", "replace").strip()


class ProcessChain:
    """``stage1 | stage2 | …`` with stdin from a file/pipe and stdout to a pipe/file.

    Each stage is a :class:`~odoo_ops.childproc.ChildPopen`: it dies with odoo-ops
    (SIGKILL included) and has a process group of its own, which :meth:`kill` kills.
    """

    def __init__(
        self,
        stages: Sequence[Sequence[str]],
        *,
        stdin: Any = subprocess.DEVNULL,
        stdout: Any = subprocess.PIPE,
        env: dict[str, str] | None = None,
        envs: Sequence[dict[str, str]] | None = None,
    ) -> None:
        """``env``: variables for every stage over this environment; ``envs``: one set
        per stage instead (stages that connect to different servers)."""
        if not stages:
            raise ValueError("empty process chain")
        if envs is not None and len(envs) != len(stages):
            raise ValueError("one environment per stage")
        self.procs: list[ChildPopen] = []
        self.tails: list[_StderrTail] = []
        full_env = {**os.environ, **env} if env else None
        previous: Any = stdin
        try:
            for index, argv in enumerate(stages):
                last = index == len(stages) - 1
                try:
                    proc = ChildPopen(
                        list(argv),
                        stdin=previous,
                        stdout=stdout if last else subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env={**os.environ, **envs[index]} if envs is not None else full_env,
                    )
                except FileNotFoundError:
                    raise TargetError(f"command not found: {argv[0]}") from None
                if index > 0 and previous is not None and hasattr(previous, "close"):
                    previous.close()  # the child holds its own copy
                previous = proc.stdout
                self.procs.append(proc)
                assert proc.stderr is not None
                self.tails.append(_StderrTail(proc.stderr))
        except BaseException:
            self.kill()
            raise

    @property
    def stdin(self) -> IO[bytes] | None:
        return self.procs[0].stdin

    @property
    def stdout(self) -> IO[bytes] | None:
        return self.procs[-1].stdout

    def finished(self) -> bool:
        """Whether the chain is over: every stage ended, or the last one did (what is
        upstream then meets a closed pipe). Does not wait."""
        return self.procs[-1].poll() is not None and (
            self.procs[-1].returncode != 0 or all(p.poll() is not None for p in self.procs)
        )

    def wait(self, *, early_exit_ok: bool = False, last_first: bool = False) -> None:
        """Wait for every stage; raise :class:`StreamError` naming the first that failed.

        ``early_exit_ok``: the last stage may stop reading before the end (``pg_restore
        -l``), so a broken pipe upstream is not a failure. ``last_first``: a failure
        of the last stage is the one named (the consumer's reason, such as a
        database refusing the rows, rather than the producer's broken pipe).
        """
        for proc in self.procs:
            proc.wait()
        last = self.procs[-1]
        order = list(zip(self.procs, self.tails, strict=True))
        if last_first:
            order = order[-1:] + order[:-1]
        for proc, tail in order:
            if early_exit_ok and proc is not last and proc.returncode in (-13, 141):
                continue
            if proc.returncode != 0:
                name = os.path.basename(str(proc.args[0]))  # type: ignore[index]
                detail = tail.text().splitlines()
                why = detail[-1] if detail else f"exit status {proc.returncode}"
                raise StreamError(f"{name} failed: {why}")

    def kill(self) -> None:
        """Kill every stage's process group (what the stages started too), then reap."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill_group()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stderr_text(self) -> str:
        return "\n".join(t.text() for t in self.tails if t.data)


def run_chain_to_file(
    stages: Sequence[Sequence[str]], path: Path, *, env: dict[str, str] | None = None
) -> FileDigest:
    """Run ``stages`` and write the last stage's output to ``path`` (hashed, fsynced)."""
    writer = HashingWriter(path)
    chain = ProcessChain(stages, env=env)
    try:
        assert chain.stdout is not None
        copy_to_writer(chain.stdout, writer)
        chain.wait()
        return writer.close()
    except BaseException:
        chain.kill()
        writer.abort()
        raise


class FilterSink:
    """A writable stream: bytes written go through ``filters`` into a hashed file.

    Without filters the bytes go straight to the file.
    """

    def __init__(self, path: Path, filters: Sequence[Sequence[str]] = ()) -> None:
        self.writer = HashingWriter(path)
        self.chain: ProcessChain | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        if filters:
            self.chain = ProcessChain(filters, stdin=subprocess.PIPE)
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        assert self.chain is not None and self.chain.stdout is not None
        try:
            copy_to_writer(self.chain.stdout, self.writer)
        except BaseException as exc:  # reported by close()
            self._error = exc

    def write(self, data: Any) -> int:
        if self.chain is None:
            return self.writer.write(data)
        assert self.chain.stdin is not None
        try:
            self.chain.stdin.write(data)
        except BrokenPipeError:
            self.chain.wait()
            raise StreamError("a filter process stopped reading") from None
        return len(data)

    def flush(self) -> None:
        if self.chain is not None and self.chain.stdin is not None:
            self.chain.stdin.flush()

    def close(self) -> FileDigest:
        if self.chain is not None:
            assert self.chain.stdin is not None
            self.chain.stdin.close()
            assert self._thread is not None
            self._thread.join()
            self.chain.wait()
            if self._error is not None:
                raise self._error
        return self.writer.close()

    def abort(self) -> None:
        if self.chain is not None:
            self.chain.kill()
        self.writer.abort()


class HashingFile:
    """A file opened for reading whose size and sha256 are computed on the bytes read.

    :meth:`digest` reads (and hashes) what the consumer left unread, so the
    digest always covers the whole file — also when the consumer stopped early
    because the bytes were damaged.
    """

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()/digest()
        self._hash = hashlib.sha256()
        self.size = 0
        self._lock = threading.Lock()

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            block = self._file.read(size)
            self._hash.update(block)
            self.size += len(block)
            return block

    def readinto(self, buffer: Any) -> int:
        block = self.read(len(buffer))
        buffer[: len(block)] = block
        return len(block)

    def digest(self) -> FileDigest:
        while self.read(CHUNK):
            pass
        self.close()
        return FileDigest(self.size, self._hash.hexdigest())

    def close(self) -> None:
        self._file.close()


class HashingPump:
    """A thread that copies ``path`` into ``dest`` (a pipe), hashing the bytes on the way.

    If the reader stops (broken pipe: the consumer failed or had enough), the
    rest of the file is still read and hashed, without being written.
    """

    def __init__(self, path: Path, dest: IO[bytes]) -> None:
        self.source = HashingFile(path)
        self._dest = dest
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                block = self.source.read(CHUNK)
                if not block:
                    break
                try:
                    self._dest.write(block)
                except (BrokenPipeError, ValueError, OSError):
                    break
        except BaseException as exc:  # reported by digest()
            self._error = exc
        finally:
            try:
                self._dest.close()
            except OSError:
                pass

    def digest(self) -> FileDigest:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.source.digest()


def hash_files_thread(paths: dict[str, Path]) -> tuple[threading.Thread, dict[str, Any]]:
    """Hash ``paths`` in a thread (started); the result maps names to digests or errors.

    For files that another process reads at the same time (pg_restore opens
    the files of a directory-format dump itself): the second read comes from
    the page cache, and hashlib releases the GIL on large blocks.
    """
    out: dict[str, Any] = {}

    def run() -> None:
        for rel, path in paths.items():
            try:
                source = HashingFile(path)
                out[rel] = source.digest()
            except OSError as exc:
                out[rel] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


class FilterSource:
    """A readable stream: ``path`` read through ``filters`` (or directly).

    ``hashed``: the file's size and sha256 are computed on the bytes read for
    the consumer (:meth:`file_digest`).
    """

    def __init__(
        self, path: Path, filters: Sequence[Sequence[str]] = (), *, hashed: bool = False
    ) -> None:
        self._file: Any = HashingFile(path) if hashed else open(path, "rb")  # noqa: SIM115
        self._pump: HashingPump | None = None
        self.chain: ProcessChain | None = None
        if filters and hashed:
            self._file.close()
            self.chain = ProcessChain(filters, stdin=subprocess.PIPE)
            assert self.chain.stdin is not None
            self._pump = HashingPump(path, self.chain.stdin)
            self._file = self._pump.source
        elif filters:
            self.chain = ProcessChain(filters, stdin=self._file)
        self.stream: IO[bytes] = self.chain.stdout if self.chain else self._file  # type: ignore[assignment]

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def file_digest(self) -> FileDigest:
        """Size and sha256 of the whole file (reads what was left unread).

        Call it after :meth:`close`, which stops (or drains) the filters first.
        """
        if self._pump is not None:
            return self._pump.digest()
        if isinstance(self._file, HashingFile):
            return self._file.digest()
        raise ValueError("FilterSource opened without hashed=True")

    def close(self, *, check: bool = True) -> None:
        if self.chain is not None:
            if check:
                # drain what is left so the producers can finish
                while self.stream.read(CHUNK):
                    pass
                self.stream.close()
                self.chain.wait()
            else:
                self.chain.kill()
        if not isinstance(self._file, HashingFile):
            self._file.close()  # a hashed file is closed by file_digest()
