"""``logs-rotation``: logs cannot fill the disk (area ``logs``).

- Compose: each service's ``logging:`` uses a driver that rotates (``local``,
  or ``json-file`` with ``max-size``) or ships logs elsewhere (journald,
  syslog, fluentd, gelf, ...); a service without its own settings inherits
  ``log-driver``/``log-opts`` of the Docker daemon (``/etc/docker/daemon.json``).
  Docker's default, ``json-file`` without ``max-size``, grows forever.
- A ``logfile`` in odoo.conf written on this host needs a logrotate rule that
  covers it (``/etc/logrotate.d``). Odoo 16.0+ has no built-in rotation any
  more (its old ``logrotate`` option is ignored); it reopens a file that
  logrotate moved away.

The two system paths are module constants so tests and unusual hosts can
point them elsewhere.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.checks.base import Outcome, Status, check, failed, passed
from odoo_ops.checks.evidence import compose_where, conf_text, display
from odoo_ops.errors import OpsError
from odoo_ops.inputs import read_input_lenient

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "logs"

DOCKER_DAEMON_JSON = Path("/etc/docker/daemon.json")
LOGROTATE_DIR = Path("/etc/logrotate.d")
LOGROTATE_CONF = Path("/etc/logrotate.conf")

#: Drivers that send logs away from the Docker host's disk (or drop them).
SHIPPING_DRIVERS = frozenset({
    "journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "gcplogs", "etwlogs",
    "logentries", "loki", "none",
})  # fmt: skip


def daemon_logging(path: Path | None = None) -> tuple[str, dict[str, Any], str]:
    """(default driver, default options, note) of the Docker daemon on this host."""
    path = path or DOCKER_DAEMON_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "json-file", {}, f"{path} absent: Docker's default json-file without max-size"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return (
            "json-file",
            {},
            f"{path} unreadable ({type(exc).__name__}): assuming Docker's default",
        )
    if not isinstance(doc, dict):
        return "json-file", {}, f"{path} is not a JSON object: assuming Docker's default"
    driver = str(doc.get("log-driver") or "json-file")
    opts = doc.get("log-opts") if isinstance(doc.get("log-opts"), dict) else {}
    return driver, dict(opts or {}), f"{path}: log-driver {driver}, log-opts {json.dumps(opts)}"


def _rotates(driver: str, options: dict[str, Any]) -> bool:
    if driver in SHIPPING_DRIVERS or driver == "local":
        return True
    return bool(options.get("max-size"))


def logrotate_rules(
    directory: Path | None = None, conf: Path | None = None
) -> list[tuple[str, str]]:
    """``(pattern, file:line)`` of every log path named by logrotate's configuration."""
    directory = directory or LOGROTATE_DIR
    conf = conf or LOGROTATE_CONF
    files: list[Path] = []
    if conf.is_file():
        files.append(conf)
    try:
        files.extend(sorted(p for p in directory.iterdir() if p.is_file()))
    except OSError:
        pass
    rules: list[tuple[str, str]] = []
    for path in files:
        text = read_input_lenient(path, kind="logrotate config")
        if text is None:
            continue
        depth = 0
        pending: list[tuple[str, int]] = []
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if depth == 0:
                head = code.split("{", 1)[0]
                try:
                    words = shlex.split(head)
                except ValueError:
                    words = head.split()
                pending.extend((w, number) for w in words if w.startswith(("/", "~", "*")))
                if "{" in code:
                    rules.extend((w, f"{path}:{n}") for w, n in pending)
                    pending = []
                elif not words or not all(w.startswith(("/", "~", "*")) for w in words):
                    pending = []  # a directive (weekly, include ...), not a log path
            depth += code.count("{") - code.count("}")
            depth = max(depth, 0)
    return rules


def covered_by(logfile: Path, rules: list[tuple[str, str]]) -> str | None:
    """Where a logrotate rule covering ``logfile`` is written, or None."""
    candidates = {str(logfile)}
    try:
        candidates.add(str(logfile.resolve()))
    except OSError:
        pass
    for pattern, where in rules:
        expanded = str(Path(pattern).expanduser())
        if any(fnmatch.fnmatchcase(c, expanded) for c in candidates):
            return where
    return None


def _compose_findings(ctx: CheckContext) -> tuple[list[str], list[str]]:
    """(problems, evidence) of the compose services' log settings."""
    compose = ctx.target.compose_or_none()
    if compose is None:
        return [], []
    driver0, opts0, note = daemon_logging()
    problems: list[str] = []
    evidence: list[str] = []
    unrotated: list[str] = []
    for name, svc in sorted(compose.services.items()):
        logging = svc.logging or {}
        driver = str(logging.get("driver") or driver0)
        options = dict(logging.get("options") or {})
        inherited = ""
        if driver == driver0:
            for key, value in opts0.items():
                options.setdefault(key, value)
            if not logging.get("options") and opts0:
                inherited = " (options from the Docker daemon)"
        where = compose_where(ctx, "services", name, "logging")
        if _rotates(driver, options):
            detail = (
                f"max-size {options.get('max-size')}, max-file {options.get('max-file', 1)}"
                if driver not in SHIPPING_DRIVERS and driver != "local"
                else "rotated by the driver"
                if driver == "local"
                else "shipped off the host"
            )
            evidence.append(f"{where}: service {name}: driver {driver}, {detail}{inherited}")
        else:
            unrotated.append(name)
            evidence.append(f"{where}: service {name}: driver {driver} without max-size")
    if unrotated:
        problems.append(
            f"container logs of {', '.join(unrotated)} are never rotated (driver json-file"
            " without max-size): they grow until the disk is full"
        )
    evidence.append(f"docker daemon: {note}")
    return problems, evidence


def _logfile_findings(ctx: CheckContext) -> tuple[list[str], list[str], str | None]:
    """(problems, evidence, note) of odoo.conf's logfile."""
    try:
        conf = ctx.conf()
    except OpsError as exc:
        return [], [], f"odoo.conf not read ({exc})"
    logfile = conf.get("logfile")
    if not logfile:
        return [], [], None
    text = conf_text(ctx, conf)
    evidence = [text.show("logfile", logfile)]
    if conf.get("syslog"):
        return [], evidence, "syslog is on: Odoo does not write the logfile"
    host = ctx.target.to_host_path(str(logfile))
    if ctx.deployment.runner == "compose":
        svc = ctx.target.odoo_service
        if host is None:
            mount = svc.volume_for(str(logfile)) if svc else None
            where = f"volume {mount.volume}" if mount and mount.volume else "the container"
            return (
                [f"logfile {logfile} is written in {where}, where no logrotate of this host"
                 " reaches it"],
                evidence,
                None,
            )  # fmt: skip
    if host is None:
        return [], evidence, "logfile is on another host"
    builtin = str(conf.raw.get("logrotate", "")).strip().lower() in ("true", "1", "yes", "on")
    if builtin:
        # Odoo <= 15 rotated the file itself; 16.0+ only reopens a file moved by logrotate(8)
        evidence.append(
            f"{text.at('logrotate')}: logrotate = True is ignored by Odoo 16.0 and later"
            " (it only reopens a file that logrotate moved)"
        )
    rule = covered_by(host, logrotate_rules())
    if rule:
        evidence.append(f"{rule}: logrotate rule covering {host}")
        return [], evidence, None
    return (
        [f"no logrotate rule in {LOGROTATE_DIR} covers the logfile {host}"],
        evidence,
        None,
    )


@check(
    "logs-rotation",
    area=AREA,
    title="container logs and the Odoo log file are rotated",
    severity="warning",
    needs=["files"],
)
def logs_rotation(ctx: CheckContext) -> Outcome:
    if ctx.deployment.runner == "ssh":
        return Outcome(
            Status.SKIP,
            "the log settings are on the remote host (runner ssh)",
            "run odoo-ops check on the server itself",
        )
    problems, evidence = _compose_findings(ctx)
    file_problems, file_evidence, note = _logfile_findings(ctx)
    problems += file_problems
    evidence = file_evidence + evidence
    compose = ctx.target.compose_or_none()
    if compose is None and not file_evidence:
        if note:
            return Outcome(Status.SKIP, f"nothing to check: {note}")
        return passed("no logfile in odoo.conf: Odoo logs to stdout (journald/your supervisor"
                      " rotates it)")  # fmt: skip
    if problems:
        fixes = []
        if any("container logs" in p for p in problems):
            fixes.append(
                'add to each service `logging: {driver: json-file, options: {max-size: "50m",'
                f' max-file: "5"}}}}` in {display(ctx, compose.path) if compose else "compose"},'
                f' or set "log-driver"/"log-opts" in {DOCKER_DAEMON_JSON} and restart Docker'
            )
        if file_problems:
            fixes.append(
                f"add {LOGROTATE_DIR}/odoo naming the logfile with `daily`, `rotate 14`,"
                " `compress`, `delaycompress`, `missingok` (Odoo reopens a moved log file by"
                " itself)"
            )
        return failed("; ".join(problems), "; ".join(fixes), evidence)
    extra = f" ({note})" if note else ""
    return passed(f"logs are rotated{extra}", evidence)
