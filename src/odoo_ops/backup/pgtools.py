"""pg_dump, pg_restore and psql: versions, compression support, environment.

Connection settings go to the tools through libpq environment variables
(``PGHOST``, ``PGUSER``, ``PGPASSWORD``...), never on the command line, so
a password is never visible in ``ps`` or in a ``--dry-run`` listing.
"""

from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass, field

from odoo_ops import childproc
from odoo_ops.errors import TargetError, UsageError

_ENV_OF = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}

#: Session settings that make a restore faster (sent with ``PGOPTIONS``).
RESTORE_PGOPTIONS = "-c maintenance_work_mem=256MB -c synchronous_commit=off"


def pg_env(dsn: str, *, options: str | None = None) -> dict[str, str]:
    """libpq environment variables for ``dsn`` (the database name excluded)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    env: dict[str, str] = {"PGAPPNAME": "odoo-ops"}
    for key, value in params.items():
        var = _ENV_OF.get(key)
        if var and value not in (None, ""):
            env[var] = str(value)
    if options:
        env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " " + options).strip()
    return env


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TargetError(
            f"{name} not found on PATH",
            hint="install the PostgreSQL client (Debian: apt-get install postgresql-client)",
        )
    return path


@functools.lru_cache(maxsize=8)
def tool_version(name: str) -> tuple[int, int]:
    """``(major, minor)`` of ``pg_dump``/``pg_restore``/``psql``."""
    out = childproc.run(
        [tool(name), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if not match:
        raise TargetError(f"cannot tell the version of {name} from {out.strip()!r}")
    return int(match.group(1)), int(match.group(2) or 0)


@dataclass
class Compression:
    """How the dump is compressed.

    ``pg_args`` go to pg_dump; ``outer`` names a stream compressor applied
    to pg_dump's output when pg_dump itself cannot do the method (zstd and
    lz4 need pg_dump 16+); ``label`` is what the manifest records.
    """

    method: str
    level: int | None
    pg_args: list[str]
    outer: str | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)
    #: ``"zstd"``: the data files of a directory dump are compressed by odoo-ops
    #: (pg_dump 15 and older; :mod:`odoo_ops.backup.datafiles`)
    data_files: str | None = None


_DEFAULT_LEVEL = {"zstd": 3, "gzip": 6, "lz4": 1, "none": None}
#: gzip level of a default custom-format dump on pg_dump 15 or older (see resolve_compression)
AUTO_GZIP_LEVEL = 6
#: zstd level of the data files odoo-ops compresses for pg_dump 15 or older (a
#: directory dump): the cheapest whose whole backup stays no larger than
#: ``pg_dump -Fc`` + ``tar czf`` (bench/backup.py: 0.98x at level 1)
DATA_FILES_LEVEL = 1


def parse_compress(value: str | None) -> tuple[str | None, int | None]:
    """``zstd``, ``zstd:5``, ``gzip:1``, ``lz4``, ``none`` -> (method, level)."""
    if value is None or value in ("", "auto"):
        return None, None
    method, _, level_text = value.partition(":")
    method = method.strip().lower()
    if method not in _DEFAULT_LEVEL:
        raise UsageError(
            f"unknown compression {value!r}", hint="use zstd, gzip, lz4 or none (e.g. zstd:3)"
        )
    level: int | None = None
    if level_text:
        try:
            level = int(level_text)
        except ValueError:
            raise UsageError(f"compression level must be a number: {value!r}") from None
        limits = {"gzip": (0, 9), "zstd": (1, 19), "lz4": (1, 12), "none": (0, 0)}[method]
        if not limits[0] <= level <= limits[1]:
            raise UsageError(f"{method} level must be {limits[0]}..{limits[1]} (got {level})")
    return method, level


def resolve_compression(
    requested: str | None, dump_format: str, pg_major: int, *, streamed: bool
) -> Compression:
    """Pick the pg_dump options for ``requested`` on this pg_dump.

    Without a request: zstd (level 3) when pg_dump supports it (16+); on an
    older pg_dump, a directory dump gets zstd at :data:`DATA_FILES_LEVEL` on
    its data files, written uncompressed by pg_dump and compressed by odoo-ops
    (``data_files``), and a custom one gzip at :data:`AUTO_GZIP_LEVEL`, the
    cheapest gzip level whose backup is no larger than ``pg_dump -Fc`` + ``tar
    czf`` (measured by bench/backup.py: level 5 is 1.002x, level 6 0.992x).
    zstd/lz4 on pg_dump 15 or older: a custom-format dump that is streamed
    anyway (``streamed``) is piped through the ``zstd``/``lz4`` tool; a
    directory-format dump gets zstd data files (``data_files``), or for lz4
    gzip level 1, and says so.
    """
    method, level = parse_compress(requested)
    native_modern = pg_major >= 16
    notes: list[str] = []
    if method is None:
        if native_modern:
            method, level = "zstd", 3
        elif dump_format == "directory" and not streamed:
            method, level = "zstd", DATA_FILES_LEVEL
        else:
            method, level = "gzip", AUTO_GZIP_LEVEL
    if level is None:
        level = _DEFAULT_LEVEL[method]
    if method == "zstd" and not native_modern and dump_format == "directory":
        # pg_dump writes the data files uncompressed; odoo-ops zstd-compresses them
        return Compression(
            "zstd", level, ["-Z", "0"], None, f"zstd:{level}", notes, data_files="zstd"
        )
    if method == "none":
        return Compression("none", None, ["-Z", "0"], None, "none", notes)
    if method == "gzip":
        args = ["-Z", f"gzip:{level}"] if native_modern else ["-Z", str(level)]
        return Compression("gzip", level, args, None, f"gzip:{level}", notes)
    # zstd / lz4
    if native_modern:
        return Compression(method, level, ["-Z", f"{method}:{level}"], None, f"{method}:{level}")
    if dump_format == "custom" and streamed:
        if shutil.which(method) is None:
            raise TargetError(
                f"{method} compression with pg_dump {pg_major} needs the {method} tool",
                hint=f"install it (Debian: apt-get install {method}) or use --compress gzip",
            )
        notes.append(
            f"pg_dump {pg_major} cannot write {method} itself: the custom-format dump is "
            f"piped through the {method} tool (restores then use one job)"
        )
        return Compression(method, level, ["-Z", "0"], method, f"{method}:{level} (stream)", notes)
    notes.append(
        f"pg_dump {pg_major} cannot write {method} (needs PostgreSQL 16+) in directory format:"
        " using gzip level 1 instead"
    )
    return Compression("gzip", 1, ["-Z", "1"], None, "gzip:1", notes)


def outer_compress_argv(method: str, level: int | None) -> list[str]:
    if method == "zstd":
        return [tool_path("zstd"), f"-{level or 3}", "-T0", "-q", "-c"]
    return [tool_path("lz4"), f"-{level or 1}", "-q", "-c"]


def outer_decompress_argv(method: str) -> list[str]:
    if method == "zstd":
        return [tool_path("zstd"), "-d", "-q", "-c"]
    return [tool_path("lz4"), "-d", "-q", "-c"]


def tool_path(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TargetError(f"{name} not found on PATH", hint=f"install it (apt-get install {name})")
    return path
