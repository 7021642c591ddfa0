"""``check --compare A B``: the modules and versions (read from each database),
the odoo.conf settings and the image ids (compose) that differ between two
deployments -- what will change when A (say staging) is promoted to B
(production)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from odoo_ops.addons.versions import parse_version

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: Module states that mean "in the database's code": installed, or about to change.
INSTALLED = {"installed", "to upgrade", "to remove"}

#: odoo.conf options whose values are never shown (only that they differ).
SECRET_OPTION = re.compile(r"passw|secret|token|api_?key|private", re.IGNORECASE)


@dataclass
class Difference:
    """One thing that differs: ``a`` is A's value, ``b`` B's (None: absent)."""

    kind: str  # "module", "odoo.conf", "image"
    name: str
    a: str | None
    b: str | None
    change: str  # what promoting A to B does: install, upgrade, downgrade, set, ...


@dataclass
class Comparison:
    a: str
    b: str
    differences: list[Difference] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def module_states(target: Target) -> dict[str, tuple[str, str | None]]:
    """``{module: (state, latest_version)}`` from the deployment's database."""
    with target.database().read_only() as cur:
        cur.execute("SELECT name, state, latest_version FROM ir_module_module ORDER BY name")
        return {str(n): (str(s), v if v is None else str(v)) for n, s, v in cur.fetchall()}


def compare_modules(
    a: dict[str, tuple[str, str | None]], b: dict[str, tuple[str, str | None]]
) -> list[Difference]:
    out: list[Difference] = []
    for name in sorted(set(a) | set(b)):
        a_state, a_ver = a.get(name, ("absent", None))
        b_state, b_ver = b.get(name, ("absent", None))
        a_in, b_in = a_state in INSTALLED, b_state in INSTALLED
        if not a_in and not b_in:
            continue
        a_text = a_ver if a_in else a_state
        b_text = b_ver if b_in else b_state
        if a_in and not b_in:
            out.append(Difference("module", name, a_text, b_text, "install"))
        elif b_in and not a_in:
            out.append(Difference("module", name, a_text, b_text, "not on A (stays, or uninstall)"))
        elif a_ver != b_ver:
            newer = parse_version(a_ver) > parse_version(b_ver)
            older = parse_version(a_ver) < parse_version(b_ver)
            change = "upgrade (-u)" if newer else "downgrade!" if older else "version differs"
            out.append(Difference("module", name, a_ver, b_ver, change))
        elif a_state != b_state:  # e.g. "to upgrade" on one side
            out.append(Difference("module", name, a_state, b_state, "pending state differs"))
    return out


def compare_conf(a: dict[str, str], b: dict[str, str]) -> list[Difference]:
    out: list[Difference] = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va is not None:
            va = va.strip()
        if vb is not None:
            vb = vb.strip()
        if va == vb:
            continue
        change = "set" if vb is None else "unset" if va is None else "change"
        if SECRET_OPTION.search(key):
            va = None if va is None else "(a secret)"
            vb = None if vb is None else "(another secret)" if va else "(a secret)"
        out.append(Difference("odoo.conf", key, va, vb, change))
    return out


def compare_images(a: dict[str, str | None], b: dict[str, str | None]) -> list[Difference]:
    out: list[Difference] = []
    for service in sorted(set(a) | set(b)):
        ia, ib = a.get(service), b.get(service)
        if ia != ib:
            change = "new service" if service not in b else "not on A" if service not in a else (
                "new image")  # fmt: skip
            out.append(Difference("image", service, ia, ib, change))
    return out


def _images(target: Target) -> dict[str, str | None] | None:
    from odoo_ops.adapters.hostcmd import compose_runner
    from odoo_ops.adapters.topology import container_image_ids

    if compose_runner(target) is None:
        return None
    return container_image_ids(target, target.odoo_services)


def compare_deployments(a: Target, b: Target) -> Comparison:
    """What differs between deployments ``a`` and ``b`` (databases are read, never written)."""
    result = Comparison(a.name, b.name)
    result.differences += compare_modules(module_states(a), module_states(b))
    result.compared.append("modules")
    conf_a, conf_b = a.conf, b.conf
    if conf_a is None and conf_b is None:
        result.notes.append("odoo.conf not compared: neither deployment has one")
    else:
        for name, conf in ((a.name, conf_a), (b.name, conf_b)):
            if conf is None:
                result.notes.append(f"{name} has no odoo.conf: every setting of the other differs")
        result.differences += compare_conf(
            dict(conf_a.raw) if conf_a else {}, dict(conf_b.raw) if conf_b else {}
        )
        result.compared.append("odoo.conf")
    images_a, images_b = _images(a), _images(b)
    if images_a is None or images_b is None:
        result.notes.append("image ids not compared: not both deployments run with compose")
    else:
        missing = [f"{t}:{s}" for t, m in ((a.name, images_a), (b.name, images_b))
                   for s, i in m.items() if i is None]  # fmt: skip
        if missing:
            result.notes.append(f"no container (no image id) for {', '.join(missing)}")
        result.differences += compare_images(images_a, images_b)
        result.compared.append("images")
    return result
