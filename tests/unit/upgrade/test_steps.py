"""How ``[upgrade]`` and ``[[upgrade.steps]]`` become the steps of an upgrade."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from odoo_ops.config.schema import Upgrade
from odoo_ops.errors import UsageError
from odoo_ops.upgrade.steps import resolve_steps


def test_without_steps_one_step_to_the_next_series_with_the_top_level_keys() -> None:
    cfg = Upgrade(target_odoo_command=["odoo18"], openupgrade="18.0.1.0.0.440",
                  install=["web_responsive"])
    (step,) = resolve_steps(cfg, "17.0", None)
    assert (step.source, step.to, step.label) == ("17.0", "18.0", "17.0 -> 18.0")
    assert step.cfg.target_odoo_command == ["odoo18"] and step.cfg.install == ["web_responsive"]
    assert step.cfg.steps == []
    with pytest.raises(UsageError, match="one at a time"):
        resolve_steps(cfg, "16.0", "18.0")
    with pytest.raises(UsageError, match="not an upgrade"):
        resolve_steps(cfg, "17.0", "17.0")
    with pytest.raises(UsageError, match="not an Odoo series"):
        resolve_steps(cfg, "17.0", "eighteen")


def test_steps_in_order_the_highest_taking_the_top_level_keys() -> None:
    cfg = Upgrade(
        target_odoo_command=["odoo18"], target_addons_paths=["/o18"], openupgrade="18.0.x",
        after_sql=["after18.sql"], openupgrade_wheels=["wheels"], timeout=60,
        steps=[{"to": "18.0", "install": ["a"]},
               {"to": "17.0", "target_odoo_command": ["odoo17"], "uninstall": ["b"]}])
    first, second = resolve_steps(cfg, "16.0", None)  # default: the highest step
    assert (first.label, second.label) == ("16.0 -> 17.0", "17.0 -> 18.0")
    assert first.cfg.target_odoo_command == ["odoo17"] and first.cfg.uninstall == ["b"]
    # an earlier step does not inherit the final target's code, pin or hooks
    assert first.cfg.target_addons_paths == [] and first.cfg.openupgrade is None
    assert first.cfg.after_sql == []
    assert second.cfg.target_odoo_command == ["odoo18"] and second.cfg.install == ["a"]
    assert second.cfg.openupgrade == "18.0.x" and second.cfg.after_sql == ["after18.sql"]
    for step in (first, second):  # shared keys
        assert step.cfg.openupgrade_wheels == ["wheels"] and step.cfg.timeout == 60
    (only,) = resolve_steps(cfg, "16.0", "17.0")
    assert only.cfg.target_odoo_command == ["odoo17"]
    (last,) = resolve_steps(cfg, "17.0", None)
    assert last.to == "18.0"


def test_a_missing_step_is_named() -> None:
    cfg = Upgrade(steps=[{"to": "18.0"}])
    with pytest.raises(UsageError, match=re.escape('no [[upgrade.steps]] with to = "17.0"')):
        resolve_steps(cfg, "16.0", "18.0")


def test_step_tables_are_validated() -> None:
    with pytest.raises(ValidationError, match=re.escape("two [[upgrade.steps]] with to")):
        Upgrade(steps=[{"to": "17.0"}, {"to": "17.0"}])
    with pytest.raises(ValidationError, match="not an Odoo series"):
        Upgrade(steps=[{"to": "17"}])
    with pytest.raises(ValidationError, match="not a module name"):
        Upgrade(steps=[{"to": "17.0", "install": ["a; DROP"]}])
    with pytest.raises(ValidationError, match="not a module name"):
        Upgrade(uninstall=["bad name"])
