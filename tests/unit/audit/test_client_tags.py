"""Reading client-action registrations out of JavaScript source."""

from __future__ import annotations

from pathlib import Path

from odoo_ops.audit.client_tags import scan_tags, tags_in_source, web_client_tags


def test_every_quoting_and_layout() -> None:
    src = """
    registry.category("actions").add("double_q", A);
    registry.category('actions').add('single_q', B);
    registry.category(`actions`).add(`back_q`, C);
    registry
        .category('actions')
        .add(
            "multi_line",
            D,
        );
    registry.category ( "actions" ) . add ( "spaced" , E ) ;
    """
    assert tags_in_source(src) == {"double_q", "single_q", "back_q", "multi_line", "spaced"}


def test_alias_and_legacy_registry() -> None:
    src = """
    const actionRegistry = registry.category("actions");
    actionRegistry.add("via_alias", A);
    let reg = registry.category('actions');
    reg
      .add('via_let', B);
    core.action_registry.add('legacy_tag', C);
    """
    assert tags_in_source(src) == {"via_alias", "via_let", "legacy_tag"}


def test_other_categories_are_not_actions() -> None:
    src = """
    registry.category("fields").add("my_field", F);
    registry.category("views").add("my_view", V);
    const fieldRegistry = registry.category("fields");
    fieldRegistry.add("other", X);
    registry.category("actions").add(`tpl_${name}`, Y);
    """
    assert tags_in_source(src) == set()


def test_scan_reads_static_src_js_only(tmp_path: Path) -> None:
    addon = tmp_path / "x_addon"
    (addon / "static" / "src" / "deep" / "er").mkdir(parents=True)
    (addon / "static" / "tests").mkdir(parents=True)
    (addon / "static" / "src" / "deep" / "er" / "a.js").write_text(
        'registry.category("actions").add("found", A);')
    (addon / "static" / "src" / "a.xml").write_text(
        'registry.category("actions").add("xml_not_js", A);')
    (addon / "static" / "tests" / "t.js").write_text(
        'registry.category("actions").add("test_only", A);')
    assert scan_tags([("x_addon", addon)]) == {"found": {"x_addon"}}


def test_web_client_tags_per_series() -> None:
    assert {"display_notification", "reload", "soft_reload", "home"} <= web_client_tags("18.0")
    assert "invalid_action" in web_client_tags("16.0")
    assert "invalid_action" not in web_client_tags("18.0")
    assert "display_exception" in web_client_tags(None)
