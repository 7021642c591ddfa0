"""Checks of the deployment's secrets (area ``secrets``).

- ``secrets-env-file``: the ``.env`` the compose file / odoo.conf /
  odoo-ops.toml rely on exists, is readable by its owner only, and sets every
  variable they reference;
- ``secrets-weak``: default, example or short passwords in ``.env`` and
  odoo.conf;
- ``secrets-hardcoded``: secrets written literally into tracked config,
  compose files and scripts.

Findings name ``file:line`` and the key; a secret value is never part of a
message or of evidence.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.checks.base import Outcome, Status, check, failed, passed, skipped
from odoo_ops.checks.evidence import compose_where, display, scan_conf_text, walk_files
from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.inputs import (
    COMPOSE_LIMIT,
    CONFIG_LIMIT,
    ENV_FILE_LIMIT,
    ODOO_CONF_LIMIT,
    read_input_bytes,
    read_input_lenient,
)
from odoo_ops.secrets import COMMON_PASSWORDS, is_secret_name

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "secrets"

MIN_LENGTH = 12

_PLACEHOLDER = re.compile(
    r"change[-_ .]?me|change[-_ .]?it|change[-_ .]?this|replace[-_ .]?me|your[-_ .]?"
    r"(password|passwd|secret|token|key)|example|placeholder|dummy|^x{3,}$|^<.*>$|^todo$|"
    r"^(fixme|tbd|none|null|secret|password)$",
    re.I,
)


def weak_reason(value: str, *, same_as: Iterable[str] = ()) -> str | None:
    """Why ``value`` is a weak password (never quoting it), or ``None``."""
    text = value.strip()
    low = text.lower()
    if not text:
        return "empty"
    if low in COMMON_PASSWORDS:
        return "a default or common password"
    if _PLACEHOLDER.search(text):
        return "an example/placeholder value"
    if any(text == other for other in same_as if other):
        return "the same as another password of this deployment"
    if len(set(text)) <= 2:
        return "one or two characters repeated"
    if len(text) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    return None


# -- reading .env with line numbers ---------------------------------------------

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


@dataclass
class EnvEntry:
    key: str
    value: str
    line: int


def read_env_entries(path: Path) -> list[EnvEntry]:
    """``KEY=value`` entries of an env file with their line numbers (compose syntax)."""
    text = read_input_lenient(path, kind=".env file", limit=ENV_FILE_LIMIT)
    if text is None:
        return []
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _ENV_LINE.match(raw)
        if not m:
            continue
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        out.append(EnvEntry(m.group(1), value, number))
    return out


# -- what references which variable ----------------------------------------------

_COMPOSE_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)
_CONF_ENV = re.compile(r"%\(env:([A-Za-z_][A-Za-z0-9_]*)\)s")


@dataclass
class Reference:
    """A variable some file needs: where, and whether a default makes it optional."""

    name: str
    where: str
    required: bool = True
    source: str = "compose"  # compose | odoo.conf | odoo-ops.toml


def compose_references(ctx: CheckContext) -> list[Reference]:
    compose = ctx.target.compose_or_none()
    if compose is None:
        return []
    text = read_input_lenient(compose.path, kind="compose file", limit=COMPOSE_LIMIT)
    if text is None:
        return []
    shown = display(ctx, compose.path)
    refs = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for m in _COMPOSE_VAR.finditer(line):
            if m.group(0) == "$$":
                continue
            name = m.group(1) or m.group(3)
            op = m.group(2) if m.group(1) else None
            refs.append(Reference(name, f"{shown}:{number}", required=op in (None, "?", ":?")))
    return refs


def conf_references(ctx: CheckContext) -> list[Reference]:
    path = ctx.target.odoo_conf_path
    if path is None or not path.is_file():
        return []
    shown = display(ctx, path)
    refs = []
    text = read_input_lenient(path, kind="odoo.conf", limit=ODOO_CONF_LIMIT)
    if text is None:
        return []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", ";")):
            continue
        for m in _CONF_ENV.finditer(line):
            refs.append(Reference(m.group(1), f"{shown}:{number}", source="odoo.conf"))
    return refs


def config_references(ctx: CheckContext) -> list[Reference]:
    """Variables odoo-ops.toml needs for this deployment and could not resolve."""
    project = ctx.project
    if project.config_path is None:
        return []
    mine = f"deployments.{project.name}."
    shown = display(ctx, project.config_path)
    text = read_input_lenient(project.config_path, kind="odoo-ops.toml", limit=CONFIG_LIMIT)
    lines = text.splitlines() if text is not None else []
    refs = []
    for setting, names in sorted(project.unresolved.items()):
        if setting.startswith("deployments.") and not setting.startswith(mine):
            continue
        for name in names:
            line = next((i for i, t in enumerate(lines, 1) if f"${{{name}" in t), None)
            where = f"{shown}:{line}" if line else f"{shown} ({setting})"
            refs.append(Reference(name, where, source="odoo-ops.toml"))
    return refs


def env_file_path(ctx: CheckContext) -> tuple[Path | None, list[str]]:
    """The env file of the deployment and who refers to it."""
    dep = ctx.deployment
    why: list[str] = []
    path: Path | None = None
    if dep.env_file:
        path = ctx.project.path(dep.env_file)
        where = display(ctx, ctx.project.config_path) if ctx.project.config_path else "discovery"
        why.append(f"{where}: env_file = {dep.env_file}")
    compose = ctx.target.compose_or_none()
    if compose is not None:
        for name, svc in compose.services.items():
            value = svc.raw.get("env_file")
            items = value if isinstance(value, list) else [value] if value else []
            for item in items:
                file = item.get("path") if isinstance(item, dict) else item
                if isinstance(item, dict) and item.get("required") is False:
                    continue
                if not file:
                    continue
                if path is None:
                    path = (compose.path.parent / str(file)).resolve()
                where = compose_where(ctx, "services", name, "env_file")
                why.append(f"{where}: service {name!r} env_file {file}")
        if path is None and any(r.required for r in compose_references(ctx)):
            path = compose.path.parent / ".env"
            why.append(f"{display(ctx, compose.path)}: uses ${{VAR}} (compose reads .env)")
    return path, why


def _mode_problem(path: Path) -> tuple[Status, str] | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        return Status.FAIL, f"mode {mode:04o}: readable or writable by every user of the host"
    if mode & stat.S_IWGRP:
        return Status.WARN, f"mode {mode:04o}: writable by its group"
    if mode & stat.S_IRGRP:
        return Status.WARN, f"mode {mode:04o}: readable by its group"
    return None


@check(
    "secrets-env-file",
    area=AREA,
    title=".env present, mode 0600, every referenced variable set",
    severity="error",
    needs=["files"],
)
def secrets_env_file(ctx: CheckContext) -> Outcome:
    if ctx.deployment.runner == "ssh":
        return skipped("the env file is on the remote host (runner ssh)")
    path, why = env_file_path(ctx)
    refs = [*compose_references(ctx), *conf_references(ctx), *config_references(ctx)]
    if path is None and not refs:
        return skipped("this deployment uses no env file and references no variables")
    env = ctx.project.env
    problems: list[str] = []
    fixes: list[str] = []
    evidence: list[str] = list(why)
    status = Status.PASS
    entries: list[EnvEntry] = []
    if path is not None:
        shown = display(ctx, path)
        if not path.is_file():
            candidates = (
                path.with_name(path.name + ".example"),
                path.with_name(path.name + ".sample"),
                path.parent / ".env.example",
            )
            example = next((p for p in candidates if p.is_file()), None)
            problems.append(f"{shown} is referenced but does not exist")
            fixes.append(
                f"create it{f' from {display(ctx, example)}' if example else ''} with the values"
                f" below, then `chmod 600 {shown}`"
            )
            status = Status.FAIL
        else:
            entries = read_env_entries(path)
            mode = _mode_problem(path)
            if mode:
                problems.append(f"{shown} has {mode[1]}")
                fixes.append(f"chmod 600 {shown}")
                status = (
                    Status.FAIL if mode[0] == Status.FAIL or status == Status.FAIL else Status.WARN
                )
    file_values = {e.key: e.value for e in entries}
    container = _odoo_container_env(ctx)
    missing: dict[str, list[str]] = {}
    empty: dict[str, list[str]] = {}
    for ref in refs:
        if not ref.required:
            continue
        value = env.get(ref.name, file_values.get(ref.name))
        if value is None and ref.source == "odoo.conf":
            value = container.get(ref.name)
        if value is None:
            missing.setdefault(ref.name, []).append(ref.where)
        elif value == "":
            empty.setdefault(ref.name, []).append(ref.where)
    if missing or empty:
        status = Status.FAIL
        if missing:
            problems.append(f"variable(s) not set: {', '.join(sorted(missing))}")
        if empty:
            problems.append(f"variable(s) set but empty: {', '.join(sorted(empty))}")
        target = display(ctx, path) if path else ".env"
        fixes.append(f"set {', '.join(sorted({*missing, *empty}))} in {target}")
        for name, places in sorted({**missing, **empty}.items()):
            evidence.extend(f"{p}: needs {name}" for p in places[:3])
    if status == Status.PASS:
        names = sorted({r.name for r in refs if r.required})
        if path is None:
            message = f"the environment sets the {len(names)} variable(s) the deployment references"
        else:
            message = (
                f"{display(ctx, path)} is private and, with the environment, sets the"
                f" {len(names)} variable(s) the deployment references"
            )
        return passed(message, evidence)
    outcome = Outcome(status, "; ".join(problems), "; ".join(dict.fromkeys(fixes)), evidence)
    return outcome


def _odoo_container_env(ctx: CheckContext) -> dict[str, str]:
    svc = ctx.target.odoo_service if ctx.deployment.runner == "compose" else None
    if svc is None:
        return {}
    return {k: v for k, v in svc.environment.items() if "$" not in v}


# -- secrets-weak ------------------------------------------------------------------


@check(
    "secrets-weak",
    area=AREA,
    title="no default, example or short passwords in .env and odoo.conf",
    severity="error",
    needs=["files"],
)
def secrets_weak(ctx: CheckContext) -> Outcome:
    if ctx.deployment.runner == "ssh":
        return skipped("the env file and odoo.conf are on the remote host (runner ssh)")
    path, _ = env_file_path(ctx)
    conf_path = ctx.target.odoo_conf_path
    has_env = path is not None and path.is_file()
    has_conf = conf_path is not None and conf_path.is_file()
    if not has_env and not has_conf:
        return skipped("no .env and no odoo.conf on this host to look at")
    findings: list[str] = []
    checked = 0
    if has_env:
        assert path is not None
        shown = display(ctx, path)
        for entry in read_env_entries(path):
            if not is_secret_name(entry.key) or "$" in entry.value:
                continue
            checked += 1
            reason = weak_reason(entry.value)
            if reason:
                findings.append(f"{shown}:{entry.line}: {entry.key} is {reason}")
    if has_conf:
        assert conf_path is not None
        text = scan_conf_text(conf_path, display(ctx, conf_path))
        try:
            conf = ctx.target.conf
        except ConfigError:
            conf = None  # unreadable: conf-readable says why
        for option in ("db_password", "smtp_password"):
            written = text.written.get(option)
            if written is None or "%(env:" in written or conf is None:
                continue
            value = conf.raw.get(option, "").strip()
            if value.lower() in ("", "false", "none"):
                continue
            checked += 1
            reason = weak_reason(value)
            if reason:
                findings.append(f"{text.at(option)}: {option} is {reason}")
    if findings:
        return failed(
            f"{len(findings)} weak password(s): "
            + "; ".join(f.split(": ", 1)[1] for f in findings),
            f"replace them with long random values (e.g. `openssl rand -base64 24`, at least"
            f" {MIN_LENGTH} characters), then change them in PostgreSQL/Odoo too"
            " (ALTER ROLE ... PASSWORD) and restart",
            findings,
        )
    if checked == 0:
        return passed(
            "no password values stored in .env or odoo.conf (admin_passwd: see conf-admin-passwd)"
        )
    return passed(
        f"{checked} password value(s) checked: none is weak (admin_passwd: see conf-admin-passwd)"
    )


# -- secrets-hardcoded -----------------------------------------------------------

CONFIG_SUFFIXES = frozenset({
    ".yml", ".yaml", ".conf", ".cfg", ".ini", ".toml", ".env", ".sh", ".bash", ".zsh",
    ".service", ".properties", ".json", ".j2", ".py", ".pgpass", ".netrc", ".pem", ".crt",
})  # fmt: skip
CONFIG_NAMES = re.compile(
    r"^(dockerfile.*|makefile|caddyfile.*|\.env(\..*)?|\.odoorc|\.pgpass|\.netrc|.*compose.*\.ya?ml)$",
    re.I,
)
EXAMPLE_NAME = re.compile(r"(\.|_|-)(example|sample|template|dist|tpl)(\.|$)|^example", re.I)
SECRET_FILES = re.compile(
    r"^(\.env(\.[^.]+)?|\.pgpass|\.netrc|id_(rsa|ecdsa|ed25519|dsa)|.*\.(key|p12|pfx))$", re.I
)

_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z]+ )*PRIVATE KEY( BLOCK)?-----")
_TOKENS = (
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"), "a GitHub token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), "a GitLab token"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bsk_live_[0-9A-Za-z]{20,}\b"), "a Stripe live key"),
    (re.compile(r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+"), "a Slack webhook URL"),
    (re.compile(r"\bdiscord(app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+"), "a Discord webhook URL"),
    # apprise notification URLs carry their token in the URL (odoo-ops.toml notifications)
    (
        re.compile(
            r"""["'](mmosts?|slack|discord|tgram|msteams|pover|ntfys?|gotifys?|matrixs?|"""
            r"""rockets?|zulip|twilio|signals?|pbul|join|ifttt)://(?!\$\{)[^"'\s]{8,}"""
        ),
        "a notification URL with its token",
    ),
)
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@", re.I)
_ASSIGN = re.compile(
    r"""^\s*(?:export\s+|set\s+)?(?:-\s+)?["']?([A-Za-z0-9_.\-]+)["']?\s*(?:=|:(?!//))\s*(.*?)\s*,?\s*$"""
)
_INLINE = re.compile(
    r"""(?:--(pass(?:word|wd)?)(?:\s+|=)|(?:^|[\s"';&(])((?:PG)?pass(?:word|wd)?|pwd)=)"""
    r"""("[^"]*"|'[^']*'|[^\s"';&|)]+)""",
    re.I,
)
_LITERAL_FALSE = {"", "false", "true", "none", "null", "~", "no", "yes", "0", "1", "''", '""'}


def _is_reference(value: str) -> bool:
    v = value.strip().strip("'\"").strip()
    return (
        not v
        or v.lower() in _LITERAL_FALSE
        or v.startswith(("$", "%(", "{{", "{%", "<", "***", "!", "/run/secrets/", "@"))
        or "${" in v
    )


def line_findings(line: str, *, example: bool, python: bool = False) -> list[str]:
    """What in ``line`` looks like a hard-coded secret (descriptions, never the value)."""
    out: list[str] = []
    if _PRIVATE_KEY.search(line):
        return ["a private key"]
    if example:
        return out
    for pattern, what in _TOKENS:
        if pattern.search(line):
            out.append(what)
    m = _URL_PASSWORD.search(line)
    if m and not _is_reference(m.group(1)):
        out.append("a URL with a password")
    stripped = line.strip()
    if stripped.startswith(("#", ";", "//")) and not stripped.startswith("#!"):
        return out
    m = _ASSIGN.match(line)
    if m and is_secret_name(m.group(1)):
        value = m.group(2)
        if python and not re.match(r"""^[rbuf]*["']""", value):
            value = ""  # python: only string literals are hard-coded secrets
        # references, hashes ($pbkdf2...), nested YAML/JSON blocks are not literals
        if value and not _is_reference(value) and not value.startswith(("{", "[", "|", ">")):
            out.append(f"{m.group(1)} has a literal value")
        return out
    if not python:
        for im in _INLINE.finditer(line):
            value = im.group(3)
            if not _is_reference(value) and len(value.strip("'\"")) >= 3:
                out.append(f"{im.group(1) or im.group(2)} given literally on a command line")
                break
    return out


def _tracked_files(ctx: CheckContext) -> tuple[list[str] | None, str]:
    """Files tracked by git under the project root, or None with the reason."""
    from odoo_ops.adapters import run_process
    from odoo_ops.errors import OpsError

    root = ctx.project.root
    try:
        result = run_process(["git", "-C", str(root), "ls-files", "-z", "--", "."], timeout=30)
    except OpsError as exc:
        return None, f"git not usable ({exc})"
    if not result.ok:
        first = (result.output.strip().splitlines() or ["not a git repository"])[0]
        return None, f"not a git work tree ({first[:120]})"
    files = [f for f in result.output.split("\0") if f.strip()]
    return files, "files tracked by git"


def _candidate(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    return (
        suffix in CONFIG_SUFFIXES
        or bool(CONFIG_NAMES.match(name))
        or bool(SECRET_FILES.match(name))
    )


def _in_addon(path: Path, root: Path, cache: dict[Path, bool]) -> bool:
    """True when ``path`` lies inside an Odoo addon (a folder with __manifest__.py)."""
    chain = []
    current = path.parent
    while True:
        if current in cache:
            result = cache[current]
            break
        chain.append(current)
        if (current / "__manifest__.py").is_file():
            result = True
            break
        if current == root or current == current.parent or root not in current.parents:
            result = False
            break
        current = current.parent
    for c in chain:
        cache[c] = result
    return result


@check(
    "secrets-hardcoded",
    area=AREA,
    title="no secrets written into tracked config, compose files or scripts",
    severity="error",
    needs=["files"],
)
def secrets_hardcoded(ctx: CheckContext) -> Outcome:
    root = ctx.project.root
    tracked, source = _tracked_files(ctx)
    git = tracked is not None
    if tracked is None:
        rels = [p.relative_to(root).as_posix() for p in _walk_config(root)]
        source = f"the usual config files ({source})"
    else:
        rels = tracked
    rels = [r for r in rels if _candidate(r)]
    findings: list[str] = []
    addon_cache: dict[Path, bool] = {}
    scanned = 0
    for rel in sorted(rels):
        path = root / rel
        name = rel.rsplit("/", 1)[-1]
        if not path.is_file() or path.is_symlink():
            continue
        example = bool(EXAMPLE_NAME.search(name))
        if SECRET_FILES.match(name) and not example:
            if git:
                findings.append(f"{rel}: a secrets file is tracked by git")
            continue  # an untracked .env is where secrets belong (see secrets-env-file)
        python = name.endswith(".py")
        if _in_addon(path, root, addon_cache):
            continue  # addon code and assets, not deployment configuration
        try:
            data = read_input_bytes(path, kind="config file", limit=512 * 1024)
        except OpsError:
            continue
        if b"\0" in data[:4096]:
            continue
        scanned += 1
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            for what in line_findings(line, example=example, python=python):
                findings.append(f"{rel}:{number}: {what}")
    if findings:
        shown = findings[:40]
        if len(findings) > 40:
            shown.append(f"... and {len(findings) - 40} more")
        return failed(
            f"{len(findings)} hard-coded secret(s) in {source}",
            "move each value into .env (mode 0600, listed in .gitignore) and reference it as"
            " ${VAR} in compose, %(env:VAR)s in odoo.conf, $VAR in scripts; then rotate every"
            " secret that was committed: it stays in the git history",
            shown,
        )
    if scanned == 0:
        return passed(f"no config files to scan among {source}")
    return passed(f"{scanned} file(s) scanned ({source}): no hard-coded secret found")


def _walk_config(root: Path) -> list[Path]:
    skip = {
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        "backups",
        "filestore",
        ".odoo-ops",
        ".git",
    }
    found = walk_files(root, max_depth=4, skip=skip)
    return [p for p in found if _candidate(p.relative_to(root).as_posix())]
