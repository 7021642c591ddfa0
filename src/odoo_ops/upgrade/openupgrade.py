"""OpenUpgrade's wheels, read as data.

``openupgrade_scripts`` ships, for each Odoo SA module it migrates, a
``scripts/<module>/<version>/`` directory (pre-/post-/end-migration scripts,
``noupdate_changes.xml``, the upgrade analysis) and ``apriori.py`` with the
modules renamed (``renamed_modules``) and merged (``merged_modules``) between
the two series. A wheel is a zip: odoo-ops lists its members with
:mod:`zipfile` and parses ``apriori.py`` with :mod:`ast` (``literal_eval`` of
the two dict literals), never importing or executing anything from it.

For a rehearsal the wheels are unpacked (members checked, no path leaves the
destination, no link) into a directory whose ``odoo/addons`` holds
``openupgrade_framework`` and ``openupgrade_scripts``, cached per wheel.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from odoo_ops.errors import OpsError

SCRIPTS_DIST = "openupgrade_scripts"
FRAMEWORK_DIST = "openupgrade_framework"
SCRIPTS_PREFIX = "odoo/addons/openupgrade_scripts/scripts/"
APRIORI = "odoo/addons/openupgrade_scripts/apriori.py"
MAX_WHEEL_BYTES = 200 << 20
MAX_MEMBER_BYTES = 50 << 20
MAX_APRIORI_BYTES = 2 << 20
_VERSION_DIR = re.compile(r"^\d+\.\d+(?:\.\d+)*$")
_WHEEL_NAME = re.compile(
    r"^odoo(?:\d+)?[_-]addon[_-](?P<dist>openupgrade[_-](?:scripts|framework))-"
    r"(?P<version>[0-9][0-9A-Za-z.+!]*)-[^-]+-[^-]+-[^-]+\.whl$"
)


@dataclass(frozen=True)
class Wheel:
    path: Path
    dist: str  # openupgrade_scripts | openupgrade_framework
    version: str

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in self.version.split("."))


@dataclass(frozen=True)
class ScriptsIndex:
    """What an ``openupgrade_scripts`` wheel holds for each module."""

    wheel: Wheel
    scripts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # module -> versions
    renamed: dict[str, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)

    def versions_for(self, module: str, series: str) -> tuple[str, ...]:
        """The migration directories of ``module`` for ``series`` (``18.0.x``)."""
        return tuple(v for v in self.scripts.get(module, ()) if v.startswith(series + "."))


def find_wheels(dirs: list[Path], dist: str) -> list[Wheel]:
    """Every wheel of ``dist`` in ``dirs`` (non-recursive), newest first."""
    found: list[Wheel] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            match = _WHEEL_NAME.match(path.name)
            if match and match["dist"].replace("-", "_") == dist and path.is_file():
                found.append(Wheel(path, dist, match["version"]))
    return sorted(found, key=lambda w: w.version_key, reverse=True)


def choose_wheel(dirs: list[Path], dist: str, series: str, pin: str | None) -> Wheel:
    """The pinned wheel of ``dist``, else the newest for ``series``; OpsError when none."""
    wheels = find_wheels(dirs, dist)
    where = ", ".join(str(d) for d in dirs) or "(no directory)"
    if pin:
        for wheel in wheels:
            if wheel.version == pin:
                return wheel
        have = ", ".join(w.version for w in wheels) or "none"
        raise OpsError(f"no {dist} wheel {pin} in {where} (found: {have})",
                       hint=f"put odoo_addon_{dist}-{pin}-py3-none-any.whl there "
                            f"(pip download --no-deps 'odoo-addon-{dist}=={pin}')")
    for wheel in wheels:
        if wheel.series == series:
            return wheel
    raise OpsError(f"no {dist} wheel for {series} in {where}",
                   hint="set [upgrade] openupgrade_wheels to the directory holding the "
                        "OpenUpgrade wheels of the target series")


def _open(wheel: Path) -> zipfile.ZipFile:
    try:
        if wheel.stat().st_size > MAX_WHEEL_BYTES:
            raise OpsError(f"{wheel}: larger than {MAX_WHEEL_BYTES >> 20} MB, not a wheel")
        return zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise OpsError(f"{wheel}: not a readable wheel ({exc})") from None


def parse_apriori(source: str, origin: str = "apriori.py") -> tuple[dict[str, str], dict[str, str]]:
    """(renamed_modules, merged_modules) from apriori.py's text, by ``ast`` only."""
    try:
        tree = ast.parse(source, filename=origin)
    except SyntaxError as exc:
        raise OpsError(f"{origin}: not Python ({exc.msg}, line {exc.lineno})") from None
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id not in ("renamed_modules",
                                                                 "merged_modules"):
            continue
        try:
            data = ast.literal_eval(value)
        except ValueError:
            raise OpsError(f"{origin}: {target.id} is not a literal dict") from None
        if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise OpsError(f"{origin}: {target.id} is not a dict of module names")
        found[target.id] = data
    return found.get("renamed_modules", {}), found.get("merged_modules", {})


def read_scripts(wheel: Wheel) -> ScriptsIndex:
    """Index an ``openupgrade_scripts`` wheel: modules with migrations, apriori maps."""
    scripts: dict[str, set[str]] = {}
    with _open(wheel.path) as archive:
        names = archive.namelist()
        for name in names:
            if not name.startswith(SCRIPTS_PREFIX):
                continue
            parts = name[len(SCRIPTS_PREFIX):].split("/")
            if len(parts) >= 3 and parts[2] and _VERSION_DIR.match(parts[1]):
                scripts.setdefault(parts[0], set()).add(parts[1])
        renamed: dict[str, str] = {}
        merged: dict[str, str] = {}
        if APRIORI in names:
            info = archive.getinfo(APRIORI)
            if info.file_size > MAX_APRIORI_BYTES:
                raise OpsError(f"{wheel.path}: apriori.py is larger than "
                               f"{MAX_APRIORI_BYTES >> 20} MB")
            text = archive.read(info).decode("utf-8", errors="replace")
            renamed, merged = parse_apriori(text, f"{wheel.path.name}:{APRIORI}")
    return ScriptsIndex(
        wheel,
        {m: tuple(sorted(v, key=_vkey)) for m, v in sorted(scripts.items())},
        renamed, merged,
    )


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _safe_members(archive: zipfile.ZipFile, wheel: Path) -> list[zipfile.ZipInfo]:
    members = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if not path.parts or path.parts[0].endswith(".dist-info"):
            continue
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
            raise OpsError(f"{wheel}: member {info.filename!r} leaves the wheel's directory")
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:
            raise OpsError(f"{wheel}: member {info.filename!r} is a symbolic link")
        if info.file_size > MAX_MEMBER_BYTES:
            raise OpsError(f"{wheel}: member {info.filename!r} is too large")
        members.append(info)
    return members


def unpack_dir(wheels: list[Wheel], cache: Path) -> Path:
    """Where :func:`unpack` puts ``wheels``."""
    return cache / "+".join(f"{w.dist}-{w.version}" for w in sorted(wheels, key=lambda w: w.dist))


def unpack(wheels: list[Wheel], cache: Path) -> Path:
    """Unpack ``wheels`` together into ``cache/<versions>/`` (once) and return its
    ``odoo/addons`` directory (for the addons path)."""
    target = unpack_dir(wheels, cache)
    key = target.name
    addons = target / "odoo" / "addons"
    if (target / ".complete").is_file():
        return addons
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    try:
        for wheel in wheels:
            with _open(wheel.path) as archive:
                for info in _safe_members(archive, wheel.path):
                    dest = work.joinpath(*PurePosixPath(info.filename).parts)
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as src, dest.open("wb") as out:
                        shutil.copyfileobj(src, out)
        (work / ".complete").write_text(key + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return addons
