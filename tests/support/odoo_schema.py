"""An Odoo-shaped PostgreSQL schema for Odoo 16, 17, 18 and 19, a healthy seed and builders.

The tables and columns are those Odoo itself creates, for the subset odoo-ops
reads or writes:

- Odoo 18 is written from ``../shared/reference/odoo-18/schema_*.txt`` and the
  real Odoo 18 dump (exact column names, types, NOT NULL, defaults, the
  ``ir_actions`` table inheritance, the shared ``ir_actions_id_seq``);
- 16, 17 and 19 differ where Odoo's source differs (``odoo/addons/base/models``):

  ============================  ====  ====  ====  ====
  difference                     16    17    18    19
  ============================  ====  ====  ====  ====
  ``ir_cron.numbercall/doall``   yes   yes   --    --
  ``ir_cron.cron_name`` type     jsonb varchar varchar varchar
  ``ir_cron.failure_count``,     --    --    yes   yes
  ``first_failure_date``
  ``ir_cron`` interval NOT NULL  --    --    yes   yes
  + CHECK (interval_number > 0)
  ``ir_actions.path`` (unique)   --    --    yes   yes
  ``ir_act_window``              --    --    yes   yes
  ``mobile_view_mode``
  ``ir_act_server`` update_*,    --    yes   yes   yes
  ``evaluation_type``, ``value``,
  ``resource_ref``,
  ``selection_value``,
  ``webhook_url``
  default ``view_mode``          tree  tree  list  list
  ============================  ====  ====  ====  ====

  In every version ``ir_cron`` has no ``model``/``model_id`` column: a cron
  ``_inherits`` ``ir.actions.server`` through ``ir_actions_server_id``, and
  the model comes from that server action's ``model_id``/``model_name``.

Tables that only need to exist (``res_*``, ``mail_*``, ``fetchmail_server``,
``payment_provider``, ...) are minimal: a few real columns, real names.

Everything here takes a psycopg 3 connection in autocommit mode (or inside a
transaction the caller manages) and returns ids, so tests read::

    create_odoo_schema(conn, 18)
    seed_base(conn, 18)
    act = add_window_action(conn, "Orders", "sale.order")
    add_menu(conn, "Orders", action=f"ir.actions.act_window,{act}")
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SUPPORTED_VERSIONS: tuple[int, ...] = (16, 17, 18, 19)

#: Where the healthy seed's stored attachments live, relative to a filestore:
#: ``{store_fname: content}``; see :func:`seed_filestore_files`.
_SEED_ATTACHMENTS: tuple[tuple[str, str, bytes], ...] = (
    ("image_1920", "image/png", b"\x89PNG\r\n\x1a\nodoo-ops test seed: company logo\n"),
    ("image_128", "image/png", b"\x89PNG\r\n\x1a\nodoo-ops test seed: company logo (128)\n"),
)

# --------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------


def series(version: int) -> str:
    """The Odoo series string of a major version: ``18`` -> ``"18.0"``."""
    _check_version(version)
    return f"{version}.0"


def adapt_version(version: str, series_: str) -> str:
    """Normalise a manifest version to a series, exactly as Odoo's ``adapt_version``.

    ``"1.0"`` -> ``"18.0.1.0"``; ``"18.0.1.0"`` stays; ``"18.0"`` ->
    ``"18.0.18.0"``; a version of another series gets prefixed too.
    """
    if version == series_ or not version.startswith(series_ + "."):
        return f"{series_}.{version}"
    return version


def _check_version(version: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"Odoo version {version!r} is not one of {SUPPORTED_VERSIONS}")


def detect_version(conn: psycopg.Connection[Any]) -> int:
    """The Odoo major version of a database built here (or a real one).

    Read from ``base``'s ``latest_version``; falls back on the ``ir_cron``
    columns (16: jsonb ``cron_name``; 17: ``numbercall``; otherwise 18).
    """
    row = conn.execute(
        "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
    ).fetchone()
    if row and row[0]:
        try:
            major = int(str(row[0]).split(".", 1)[0])
        except ValueError:
            major = 0
        if major in SUPPORTED_VERSIONS:
            return major
    cols = _columns(conn, "ir_cron")
    if "numbercall" in cols:
        return 16 if cols.get("cron_name") == "jsonb" else 17
    return 18


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether ``table`` exists in the current schema."""
    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    return bool(row and row[0])


# --------------------------------------------------------------------------
# DDL
# --------------------------------------------------------------------------

_AUDIT = """
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone"""


def _ddl(version: int) -> list[str]:
    """The statements creating the schema of ``version``, in order."""
    v = version
    stmts: list[str] = []
    add = stmts.append

    # --- res_* (minimal) -------------------------------------------------
    add(f"""
CREATE TABLE res_partner (
    id serial PRIMARY KEY,
    company_id integer,
    name character varying,
    complete_name character varying,
    parent_id integer REFERENCES res_partner(id) ON DELETE SET NULL,
    commercial_partner_id integer REFERENCES res_partner(id) ON DELETE SET NULL,
    user_id integer,
    ref character varying,
    lang character varying,
    tz character varying,
    vat character varying,
    website character varying,
    function character varying,
    type character varying,
    street character varying,
    zip character varying,
    city character varying,
    email character varying,
    phone character varying,
    active boolean,
    is_company boolean,
    partner_share boolean,{_AUDIT}
)""")
    add(f"""
CREATE TABLE res_company (
    id serial PRIMARY KEY,
    name character varying NOT NULL,
    partner_id integer NOT NULL REFERENCES res_partner(id) ON DELETE RESTRICT,
    currency_id integer NOT NULL,
    sequence integer,
    parent_path character varying,
    parent_id integer REFERENCES res_company(id) ON DELETE SET NULL,
    email character varying,
    phone character varying,
    active boolean,{_AUDIT}
)""")
    add(f"""
CREATE TABLE res_users (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES res_company(id) ON DELETE RESTRICT,
    partner_id integer NOT NULL REFERENCES res_partner(id) ON DELETE RESTRICT,
    active boolean DEFAULT true,
    login character varying NOT NULL,
    password character varying,
    action_id integer,
    share boolean,
    signature text,{_AUDIT},
    CONSTRAINT res_users_login_key UNIQUE (login)
)""")
    add("CREATE INDEX res_users__partner_id_index ON res_users (partner_id)")
    add(f"""
CREATE TABLE res_groups (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    comment jsonb,
    share boolean,{_AUDIT}
)""")
    add("""
CREATE TABLE res_groups_users_rel (
    gid integer NOT NULL REFERENCES res_groups(id) ON DELETE CASCADE,
    uid integer NOT NULL REFERENCES res_users(id) ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
)""")

    # --- modules -----------------------------------------------------------
    add("""
CREATE TABLE ir_module_category (
    id serial PRIMARY KEY,
    create_uid integer,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    write_uid integer,
    parent_id integer REFERENCES ir_module_category(id) ON DELETE SET NULL,
    name jsonb NOT NULL,
    sequence integer,
    description jsonb,
    visible boolean,
    exclusive boolean
)""")
    add("CREATE INDEX ir_module_category__parent_id_index ON ir_module_category (parent_id)")
    add("""
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY,
    create_uid integer,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    write_uid integer,
    website character varying,
    summary jsonb,
    name character varying NOT NULL,
    author character varying,
    icon character varying,
    state character varying(16),
    latest_version character varying,
    shortdesc jsonb,
    category_id integer REFERENCES ir_module_category(id) ON DELETE SET NULL,
    description jsonb,
    application boolean DEFAULT false,
    demo boolean DEFAULT false,
    web boolean DEFAULT false,
    license character varying(32),
    sequence integer DEFAULT 100,
    auto_install boolean DEFAULT false,
    to_buy boolean DEFAULT false,
    maintainer character varying,
    published_version character varying,
    url character varying,
    contributors text,
    menus_by_module text,
    reports_by_module text,
    views_by_module text,
    module_type character varying,
    imported boolean,
    CONSTRAINT ir_module_module_name_uniq UNIQUE (name)
)""")
    add("CREATE INDEX ir_module_module__category_id_index ON ir_module_module (category_id)")
    add("CREATE INDEX ir_module_module__state_index ON ir_module_module (state)")
    add("""
CREATE TABLE ir_module_module_dependency (
    id serial PRIMARY KEY,
    name character varying,
    module_id integer REFERENCES ir_module_module(id) ON DELETE CASCADE,
    auto_install_required boolean DEFAULT true
)""")
    add("CREATE INDEX ir_module_module_dependency__name_index"
        " ON ir_module_module_dependency (name)")
    add("""
CREATE TABLE ir_module_module_exclusion (
    id serial PRIMARY KEY,
    module_id integer REFERENCES ir_module_module(id) ON DELETE CASCADE,
    create_uid integer,
    write_uid integer,
    name character varying,
    create_date timestamp without time zone,
    write_date timestamp without time zone
)""")
    add("CREATE INDEX ir_module_module_exclusion__name_index"
        " ON ir_module_module_exclusion (name)")

    # --- models ------------------------------------------------------------
    add("""
CREATE TABLE ir_model (
    id serial PRIMARY KEY,
    create_uid integer,
    write_uid integer,
    model character varying NOT NULL,
    "order" character varying NOT NULL,
    state character varying,
    name jsonb NOT NULL,
    info text,
    transient boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    is_mail_thread boolean,
    is_mail_activity boolean,
    is_mail_blacklist boolean,
    CONSTRAINT ir_model_obj_name_uniq UNIQUE (model)
)""")
    add(f"""
CREATE TABLE ir_model_fields (
    id serial PRIMARY KEY,
    model_id integer NOT NULL REFERENCES ir_model(id) ON DELETE CASCADE,
    name character varying NOT NULL,
    complete_name character varying,
    model character varying NOT NULL,
    relation character varying,
    ttype character varying NOT NULL,
    state character varying NOT NULL,
    field_description jsonb NOT NULL,
    required boolean,
    readonly boolean,
    index boolean,
    translate boolean,
    store boolean,{_AUDIT}
)""")
    add("""
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY,
    create_uid integer,
    create_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
    write_date timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
    write_uid integer,
    res_id integer,
    noupdate boolean DEFAULT false,
    name character varying NOT NULL,
    module character varying NOT NULL,
    model character varying NOT NULL,
    CONSTRAINT ir_model_data_name_nospaces CHECK (name::text !~~ '% %'::text)
)""")
    add("CREATE INDEX ir_model_data_model_res_id_index ON ir_model_data (model, res_id)")
    add("CREATE UNIQUE INDEX ir_model_data_module_name_uniq_index ON ir_model_data (module, name)")

    # --- menus and actions -------------------------------------------------
    add("""
CREATE TABLE ir_ui_menu (
    id serial PRIMARY KEY,
    sequence integer,
    parent_id integer REFERENCES ir_ui_menu(id) ON DELETE RESTRICT,
    create_uid integer,
    write_uid integer,
    parent_path character varying,
    web_icon character varying,
    action character varying,
    name jsonb NOT NULL,
    active boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone
)""")
    add("CREATE INDEX ir_ui_menu__parent_id_index ON ir_ui_menu (parent_id)")
    add("CREATE INDEX ir_ui_menu__parent_path_index ON ir_ui_menu (parent_path)")
    add("""
CREATE TABLE ir_ui_menu_group_rel (
    menu_id integer NOT NULL REFERENCES ir_ui_menu(id) ON DELETE CASCADE,
    gid integer NOT NULL REFERENCES res_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (menu_id, gid)
)""")
    path_col = "\n    path character varying," if v >= 18 else ""
    add(f"""
CREATE TABLE ir_actions (
    id serial PRIMARY KEY,
    binding_model_id integer REFERENCES ir_model(id) ON DELETE CASCADE,
    create_uid integer,
    write_uid integer,
    type character varying NOT NULL,{path_col}
    binding_type character varying NOT NULL,
    binding_view_types character varying,
    name jsonb NOT NULL,
    help jsonb,
    create_date timestamp without time zone,
    write_date timestamp without time zone
)""")
    mobile = "\n    mobile_view_mode character varying," if v >= 18 else ""
    add(f"""
CREATE TABLE ir_act_window (
    view_id integer,
    res_id integer,
    "limit" integer,
    search_view_id integer,
    domain character varying,
    context character varying NOT NULL,
    res_model character varying NOT NULL,
    target character varying,
    view_mode character varying NOT NULL,{mobile}
    usage character varying,
    filter boolean
) INHERITS (ir_actions)""")
    add("""
CREATE TABLE ir_act_client (
    tag character varying NOT NULL,
    target character varying,
    res_model character varying,
    context character varying NOT NULL,
    params_store bytea
) INHERITS (ir_actions)""")
    server_17 = (
        """
    update_field_id integer REFERENCES ir_model_fields(id) ON DELETE CASCADE,
    update_related_model_id integer REFERENCES ir_model(id) ON DELETE SET NULL,
    selection_value integer,
    update_path character varying,
    update_m2m_operation character varying,
    update_boolean_value character varying,
    evaluation_type character varying,
    resource_ref character varying,
    webhook_url character varying,
    value text,"""
        if v >= 17
        else ""
    )
    add(f"""
CREATE TABLE ir_act_server (
    sequence integer,
    model_id integer NOT NULL REFERENCES ir_model(id) ON DELETE CASCADE,
    crud_model_id integer REFERENCES ir_model(id) ON DELETE SET NULL,
    link_field_id integer REFERENCES ir_model_fields(id) ON DELETE SET NULL,{server_17}
    usage character varying NOT NULL,
    state character varying NOT NULL,
    model_name character varying,
    code text,
    -- added by mail (installed by the seed)
    template_id integer,
    activity_type_id integer,
    activity_date_deadline_range integer,
    activity_user_id integer REFERENCES res_users(id) ON DELETE SET NULL,
    mail_post_method character varying,
    activity_summary character varying,
    activity_date_deadline_range_type character varying,
    activity_user_type character varying,
    activity_user_field_name character varying,
    activity_note text,
    mail_post_autofollow boolean
) INHERITS (ir_actions)""")
    add("CREATE INDEX ir_act_server__model_id_index ON ir_act_server (model_id)")
    add("""
CREATE TABLE ir_act_report_xml (
    paperformat_id integer,
    model character varying NOT NULL,
    report_type character varying NOT NULL,
    report_name character varying NOT NULL,
    report_file character varying,
    attachment character varying,
    domain character varying,
    print_report_name jsonb,
    multi boolean,
    attachment_use boolean
) INHERITS (ir_actions)""")
    add("""
CREATE TABLE ir_act_url (
    target character varying NOT NULL,
    url text NOT NULL
) INHERITS (ir_actions)""")
    for child in ("ir_act_window", "ir_act_client", "ir_act_server", "ir_act_report_xml",
                  "ir_act_url"):
        add(f"ALTER TABLE {child} ADD CONSTRAINT {child}_pkey PRIMARY KEY (id)")
        add(f"ALTER TABLE {child} ADD CONSTRAINT {child}_binding_model_id_fkey"
            f" FOREIGN KEY (binding_model_id) REFERENCES ir_model(id) ON DELETE CASCADE")
    if v >= 18:
        for table in ("ir_actions", "ir_act_window", "ir_act_client", "ir_act_server",
                      "ir_act_report_xml", "ir_act_url"):
            add(f"ALTER TABLE {table} ADD CONSTRAINT {table}_path_unique UNIQUE (path)")

    # --- crons -------------------------------------------------------------
    if v <= 17:
        cron_name_type = "jsonb" if v == 16 else "character varying"
        add(f"""
CREATE TABLE ir_cron (
    id serial PRIMARY KEY,
    ir_actions_server_id integer NOT NULL REFERENCES ir_act_server(id) ON DELETE RESTRICT,
    cron_name {cron_name_type},
    user_id integer NOT NULL REFERENCES res_users(id) ON DELETE RESTRICT,
    active boolean,
    interval_number integer,
    interval_type character varying,
    numbercall integer,
    doall boolean,
    nextcall timestamp without time zone NOT NULL,
    lastcall timestamp without time zone,
    priority integer,{_AUDIT}
)""")
    else:
        add("""
CREATE TABLE ir_cron (
    id serial PRIMARY KEY,
    ir_actions_server_id integer NOT NULL REFERENCES ir_act_server(id) ON DELETE RESTRICT,
    user_id integer NOT NULL REFERENCES res_users(id) ON DELETE RESTRICT,
    interval_number integer NOT NULL,
    priority integer,
    failure_count integer,
    create_uid integer,
    write_uid integer,
    cron_name character varying,
    interval_type character varying NOT NULL,
    active boolean,
    nextcall timestamp without time zone NOT NULL,
    lastcall timestamp without time zone,
    first_failure_date timestamp without time zone,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    CONSTRAINT ir_cron_check_strictly_positive_interval CHECK (interval_number > 0)
)""")
    add("""
CREATE TABLE ir_cron_trigger (
    id serial PRIMARY KEY,
    cron_id integer REFERENCES ir_cron(id) ON DELETE SET NULL,
    call_at timestamp without time zone NOT NULL
)""")

    # --- parameters, attachments, mail servers --------------------------------
    add("""
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY,
    create_uid integer,
    write_uid integer,
    key character varying NOT NULL,
    value text NOT NULL,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
)""")
    add("""
CREATE TABLE ir_attachment (
    id serial PRIMARY KEY,
    res_id integer,
    company_id integer REFERENCES res_company(id) ON DELETE SET NULL,
    file_size integer,
    create_uid integer,
    write_uid integer,
    name character varying NOT NULL,
    res_model character varying,
    res_field character varying,
    type character varying NOT NULL,
    url character varying(1024),
    access_token character varying,
    store_fname character varying,
    checksum character varying(40),
    mimetype character varying,
    description text,
    index_content text,
    public boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    db_datas bytea,
    original_id integer REFERENCES ir_attachment(id) ON DELETE SET NULL
)""")
    add("CREATE INDEX ir_attachment__store_fname_index ON ir_attachment (store_fname)")
    add("CREATE INDEX ir_attachment__url_index ON ir_attachment (url) WHERE url IS NOT NULL")
    add("CREATE INDEX ir_attachment_res_idx ON ir_attachment (res_model, res_id)")
    add(f"""
CREATE TABLE ir_mail_server (
    id serial PRIMARY KEY,
    name character varying NOT NULL,
    from_filter character varying,
    smtp_host character varying,
    smtp_port integer,
    smtp_authentication character varying NOT NULL,
    smtp_user character varying,
    smtp_pass character varying,
    smtp_encryption character varying NOT NULL,
    smtp_debug boolean,
    sequence integer,
    active boolean,{_AUDIT}
)""")
    add(f"""
CREATE TABLE fetchmail_server (
    id serial PRIMARY KEY,
    name character varying NOT NULL,
    active boolean,
    state character varying,
    server character varying,
    port integer,
    server_type character varying NOT NULL,
    is_ssl boolean,
    attach boolean,
    original boolean,
    date timestamp without time zone,
    "user" character varying,
    password character varying,
    object_id integer REFERENCES ir_model(id) ON DELETE SET NULL,
    priority integer,{_AUDIT}
)""")
    add(f"""
CREATE TABLE payment_provider (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    code character varying NOT NULL,
    state character varying NOT NULL,
    company_id integer NOT NULL REFERENCES res_company(id) ON DELETE RESTRICT,
    is_published boolean,
    sequence integer,{_AUDIT}
)""")

    # --- mail (minimal: row counts and cron targets) -------------------------------
    add(f"""
CREATE TABLE mail_message (
    id serial PRIMARY KEY,
    parent_id integer REFERENCES mail_message(id) ON DELETE SET NULL,
    res_id integer,
    author_id integer REFERENCES res_partner(id) ON DELETE SET NULL,
    subject character varying,
    model character varying,
    record_name character varying,
    message_type character varying NOT NULL,
    body text,
    date timestamp without time zone,{_AUDIT}
)""")
    add(f"""
CREATE TABLE mail_mail (
    id serial PRIMARY KEY,
    mail_message_id integer NOT NULL REFERENCES mail_message(id) ON DELETE CASCADE,
    state character varying,{_AUDIT}
)""")
    add("""
CREATE TABLE mail_notification (
    id serial PRIMARY KEY,
    mail_message_id integer NOT NULL REFERENCES mail_message(id) ON DELETE CASCADE,
    res_partner_id integer REFERENCES res_partner(id) ON DELETE CASCADE,
    notification_type character varying NOT NULL,
    is_read boolean
)""")
    add(f"""
CREATE TABLE res_users_deletion (
    id serial PRIMARY KEY,
    user_id integer REFERENCES res_users(id) ON DELETE SET NULL,
    state character varying NOT NULL,{_AUDIT}
)""")

    # --- create_uid / write_uid -> res_users, as Odoo declares them ------------------
    audited = (
        "res_partner", "res_company", "res_users", "res_groups", "ir_module_category",
        "ir_module_module", "ir_module_module_exclusion", "ir_model", "ir_model_fields",
        "ir_model_data", "ir_ui_menu", "ir_actions", "ir_act_window", "ir_act_client",
        "ir_act_server", "ir_act_report_xml", "ir_act_url", "ir_cron", "ir_config_parameter",
        "ir_attachment", "ir_mail_server", "fetchmail_server", "payment_provider",
        "mail_message", "mail_mail", "res_users_deletion",
    )
    for table in audited:
        for col in ("create_uid", "write_uid"):
            add(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{col}_fkey FOREIGN KEY ({col})"
                f" REFERENCES res_users(id) ON DELETE SET NULL")
    return stmts


#: Tables created by :func:`create_odoo_schema` (every version).
ODOO_TABLES: tuple[str, ...] = (
    "res_partner", "res_company", "res_users", "res_groups", "res_groups_users_rel",
    "ir_module_category", "ir_module_module", "ir_module_module_dependency",
    "ir_module_module_exclusion", "ir_model", "ir_model_fields", "ir_model_data",
    "ir_ui_menu", "ir_ui_menu_group_rel", "ir_actions", "ir_act_window", "ir_act_client",
    "ir_act_server", "ir_act_report_xml", "ir_act_url", "ir_cron", "ir_cron_trigger",
    "ir_config_parameter", "ir_attachment", "ir_mail_server", "fetchmail_server",
    "payment_provider", "mail_message", "mail_mail", "mail_notification",
    "res_users_deletion",
)

#: Table of each action model, as in Odoo (``ir_ui_menu.action`` references these).
ACTION_TABLES: Mapping[str, str] = {
    "ir.actions.act_window": "ir_act_window",
    "ir.actions.client": "ir_act_client",
    "ir.actions.server": "ir_act_server",
    "ir.actions.report": "ir_act_report_xml",
    "ir.actions.act_url": "ir_act_url",
}

#: Models of the schema and their tables; ``None`` marks an abstract model (no table).
MODEL_TABLES: Mapping[str, str | None] = {
    "base": None,
    "ir.autovacuum": None,
    "publisher_warranty.contract": None,
    "res.config": None,
    "res.partner": "res_partner",
    "res.company": "res_company",
    "res.users": "res_users",
    "res.groups": "res_groups",
    "res.users.deletion": "res_users_deletion",
    "ir.module.category": "ir_module_category",
    "ir.module.module": "ir_module_module",
    "ir.module.module.dependency": "ir_module_module_dependency",
    "ir.module.module.exclusion": "ir_module_module_exclusion",
    "ir.model": "ir_model",
    "ir.model.fields": "ir_model_fields",
    "ir.model.data": "ir_model_data",
    "ir.ui.menu": "ir_ui_menu",
    "ir.actions.actions": "ir_actions",
    **ACTION_TABLES,
    "ir.cron": "ir_cron",
    "ir.cron.trigger": "ir_cron_trigger",
    "ir.config_parameter": "ir_config_parameter",
    "ir.attachment": "ir_attachment",
    "ir.mail_server": "ir_mail_server",
    "fetchmail.server": "fetchmail_server",
    "payment.provider": "payment_provider",
    "mail.message": "mail_message",
    "mail.mail": "mail_mail",
    "mail.notification": "mail_notification",
}


def create_odoo_schema(conn: psycopg.Connection[Any], version: int) -> None:
    """Create the Odoo-shaped tables of ``version`` (16..19) in an empty database."""
    _check_version(version)
    with conn.transaction():
        for stmt in _ddl(version):
            conn.execute(stmt)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# the core modules a fresh database knows
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CoreModule:
    """A module shipped with Odoo, as the seed and the ``odoo`` double know it."""

    name: str
    depends: tuple[str, ...] = ()
    auto_install: bool = False
    version: str = "1.0"  # without the series prefix
    application: bool = False
    category: str = "Hidden"
    shortdesc: str = ""
    license: str = "LGPL-3"
    author: str = "Odoo S.A."
    installable: bool = True
    since: int = 16


CORE_MODULES: tuple[CoreModule, ...] = (
    CoreModule("base", (), True, "1.3", category="Hidden", shortdesc="Base"),
    CoreModule("web", ("base",), True, "1.0", shortdesc="Web"),
    CoreModule("base_setup", ("base", "web"), True, "1.0", shortdesc="Initial Setup Tools"),
    CoreModule("bus", ("base", "web"), True, "1.0", shortdesc="IM Bus"),
    CoreModule("web_tour", ("web",), True, "1.0", shortdesc="Tours"),
    CoreModule("html_editor", ("base", "bus", "web"), True, "1.0", shortdesc="HTML Editor",
               since=18),
    CoreModule("base_import", ("web",), True, "2.0", shortdesc="Base import"),
    CoreModule("auth_totp", ("web",), True, "1.0", shortdesc="Two-Factor Authentication (TOTP)"),
    CoreModule("mail", ("base", "base_setup", "bus", "web_tour", "html_editor"), False, "1.18",
               application=True, category="Productivity/Discuss", shortdesc="Discuss"),
    CoreModule("contacts", ("base", "mail"), False, "1.0", application=True,
               category="Sales/CRM", shortdesc="Contacts"),
    CoreModule("auth_signup", ("base_setup", "mail", "web"), True, "1.0",
               shortdesc="Signup"),
    CoreModule("mail_bot", ("mail",), True, "1.2", category="Productivity/Discuss",
               shortdesc="OdooBot"),
    CoreModule("calendar", ("base", "mail"), False, "1.1", application=True,
               category="Productivity/Calendar", shortdesc="Calendar"),
    CoreModule("web_studio", ("base_import", "mail", "web"), False, "1.0", application=True,
               category="Customizations/Studio", shortdesc="Studio", license="OEEL-1",
               installable=False),
)

#: Modules :func:`seed_base` installs (plus the auto_install modules they pull in).
SEED_INSTALL: tuple[str, ...] = ("base", "web", "mail", "contacts")


def core_modules(version: int) -> list[CoreModule]:
    """The :data:`CORE_MODULES` that exist in ``version`` (dependencies adjusted)."""
    out = []
    known = {m.name for m in CORE_MODULES if m.since <= version}
    for mod in CORE_MODULES:
        if mod.since > version:
            continue
        deps = tuple(d for d in mod.depends if d in known)
        out.append(CoreModule(**{**mod.__dict__, "depends": deps}))
    return out


def install_closure(
    modules: Mapping[str, tuple[Sequence[str], bool | Sequence[str]]],
    requested: Iterable[str],
    installed: Iterable[str] = (),
) -> list[str]:
    """Modules to install for ``requested``, like Odoo's ``button_install``.

    ``modules`` maps a name to ``(depends, auto_install)`` where
    ``auto_install`` is a bool or the list of dependencies that trigger it.
    Returns the newly installed names: the dependency closure of
    ``requested`` plus, repeated to a fixpoint, every uninstalled
    auto_install module whose triggering dependencies are all installed or
    being installed with at least one being installed now.
    """
    done = set(installed)
    todo: set[str] = set()
    stack = [r for r in requested if r not in done]
    while stack:
        name = stack.pop()
        if name in todo or name in done or name not in modules:
            continue
        todo.add(name)
        stack.extend(modules[name][0])
    while True:
        extra = []
        for name, (deps, auto) in sorted(modules.items()):
            if not auto or name in todo or name in done:
                continue
            required = set(deps) if auto is True else set(auto)
            if required and required <= (todo | done) and required & todo:
                extra.append(name)
        if not extra:
            break
        for name in extra:
            stack = [name]
            while stack:
                n = stack.pop()
                if n in todo or n in done or n not in modules:
                    continue
                todo.add(n)
                stack.extend(modules[n][0])
    return sorted(todo)


def graph_order(depends: Mapping[str, Sequence[str]], names: Iterable[str]) -> list[str]:
    """Order ``names`` as Odoo's module graph loads them: by depth, then by name.

    ``depends`` maps each module to its dependencies; dependencies outside
    ``names`` count as already loaded (depth 0 for ``base``).
    """
    wanted = set(names)
    depth: dict[str, int] = {}

    def _depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in depth:
            return depth[name]
        if name in seen:
            raise ValueError(f"dependency cycle through {name!r}")
        deps = [d for d in depends.get(name, ()) if d in wanted]
        value = 0 if not deps else 1 + max(_depth(d, seen | {name}) for d in deps)
        depth[name] = value
        return value

    for name in wanted:
        _depth(name)
    return sorted(wanted, key=lambda n: (depth[n], n))


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------


def _tr(value: str | None) -> Jsonb | None:
    return None if value is None else Jsonb({"en_US": value})


def _now() -> datetime:
    return datetime.utcnow().replace(microsecond=0)  # Odoo stores naive UTC


def _insert(conn: psycopg.Connection[Any], table: str, values: Mapping[str, Any]) -> int:
    cols = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING id",  # type: ignore[arg-type]
        list(values.values()),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _split_xmlid(xmlid: str) -> tuple[str, str]:
    module, _, name = xmlid.partition(".")
    if not name:
        raise ValueError(f"xmlid {xmlid!r} must be 'module.name'")
    return module, name


def add_model_data(
    conn: psycopg.Connection[Any],
    module: str,
    name: str,
    model: str,
    res_id: int,
    *,
    noupdate: bool = False,
) -> int:
    """Insert an ``ir_model_data`` row (an external id ``module.name``); returns its id."""
    return _insert(conn, "ir_model_data", {
        "module": module, "name": name, "model": model, "res_id": res_id,
        "noupdate": noupdate,
    })


def _xmlid(conn: psycopg.Connection[Any], xmlid: str | None, model: str, res_id: int) -> None:
    if xmlid:
        module, name = _split_xmlid(xmlid)
        add_model_data(conn, module, name, model, res_id)


def ref(conn: psycopg.Connection[Any], xmlid: str) -> int | None:
    """The ``res_id`` of an external id, or ``None``."""
    module, name = _split_xmlid(xmlid)
    row = conn.execute(
        "SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s", (module, name)
    ).fetchone()
    return None if row is None else int(row[0])


def add_model(
    conn: psycopg.Connection[Any],
    model: str,
    table: str | None = None,
    *,
    name: str | None = None,
    transient: bool = False,
    module: str | None = None,
) -> int:
    """Get or create the ``ir_model`` row of ``model``; returns its id.

    ``table``: when given, a minimal table of that name (id + audit columns)
    is created too if it does not exist -- use it to make a model "real".
    ``module``: when given, the external id ``<module>.model_<model_with_underscores>``
    is added as Odoo does.
    """
    if table:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id serial PRIMARY KEY,{_AUDIT})"  # type: ignore[arg-type]
        )
    row = conn.execute("SELECT id FROM ir_model WHERE model = %s", (model,)).fetchone()
    if row:
        return int(row[0])
    model_id = _insert(conn, "ir_model", {
        "model": model,
        "name": _tr(name or model.replace(".", " ").replace("_", " ").title()),
        "state": "base",
        "transient": transient,
        "order": "id",
        "info": None,
        "create_date": _now(),
        "write_date": _now(),
    })
    if module:
        add_model_data(conn, module, "model_" + model.replace(".", "_"), "ir.model", model_id)
    return model_id


def add_field(
    conn: psycopg.Connection[Any],
    model: str,
    name: str,
    ttype: str = "char",
    *,
    relation: str | None = None,
    description: str | None = None,
    store: bool = True,
) -> int:
    """Insert an ``ir_model_fields`` row (the model row is created if missing)."""
    model_id = add_model(conn, model)
    return _insert(conn, "ir_model_fields", {
        "model_id": model_id, "model": model, "name": name, "ttype": ttype,
        "relation": relation, "state": "base", "complete_name": f"{model}.{name}",
        "field_description": _tr(description or name.replace("_", " ").title()),
        "store": store,
    })


def _category(conn: psycopg.Connection[Any], path: str | None) -> int | None:
    """Get or create the category ``"A/B"`` (with ``base.module_category_*`` ids)."""
    if not path:
        return None
    parent: int | None = None
    for depth, part in enumerate(path.split("/")):
        row = conn.execute(
            "SELECT id FROM ir_module_category WHERE name->>'en_US' = %s"
            " AND parent_id IS NOT DISTINCT FROM %s",
            (part, parent),
        ).fetchone()
        if row:
            parent = int(row[0])
            continue
        cat_id = _insert(conn, "ir_module_category", {
            "name": _tr(part), "parent_id": parent, "visible": True, "sequence": depth,
            "create_date": _now(), "write_date": _now(),
        })
        slug = "_".join(p.lower().replace(" ", "_") for p in path.split("/")[: depth + 1])
        add_model_data(conn, "base", f"module_category_{slug}", "ir.module.category", cat_id,
                       noupdate=True)
        parent = cat_id
    return parent


def _series_of(conn: psycopg.Connection[Any]) -> str:
    return f"{detect_version(conn)}.0"


def add_module(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    state: str = "installed",
    latest_version: str | None = None,
    depends: Sequence[str] = (),
    auto_install: bool | Sequence[str] = False,
    author: str = "Odoo S.A.",
    license: str = "LGPL-3",
    category: str | None = None,
    shortdesc: str | None = None,
    summary: str | None = None,
    application: bool = False,
    demo: bool = False,
    website: str | None = None,
    excludes: Sequence[str] = (),
) -> int:
    """Insert an ``ir_module_module`` row with its dependency rows; returns its id.

    ``latest_version`` defaults to ``<series>.1.0`` for an installed module
    (``installed``/``to upgrade``/``to remove``) and ``None`` otherwise, as in
    Odoo. ``auto_install`` may be ``True`` or the list of dependencies that
    trigger it (``auto_install_required`` of the dependency rows follows it).
    The external id ``base.module_<name>`` is added, as ``update_list`` does.
    """
    if latest_version is None and state in ("installed", "to upgrade", "to remove"):
        latest_version = f"{_series_of(conn)}.1.0"
    module_id = _insert(conn, "ir_module_module", {
        "name": name,
        "state": state,
        "latest_version": latest_version,
        "shortdesc": _tr(shortdesc or name.replace("_", " ").title()),
        "summary": _tr(summary or ""),
        "description": _tr(""),
        "author": author,
        "license": license,
        "website": website or ("https://www.odoo.com" if author == "Odoo S.A." else None),
        "category_id": _category(conn, category),
        "application": application,
        "auto_install": bool(auto_install),
        "demo": demo,
        "sequence": 100,
        "to_buy": license.startswith("OEEL"),
        "module_type": "official" if author == "Odoo S.A." else None,
        "create_date": _now(),
        "write_date": _now(),
    })
    set_module_dependencies(conn, module_id, depends, auto_install)
    for excluded in excludes:
        _insert(conn, "ir_module_module_exclusion", {"module_id": module_id, "name": excluded})
    add_model_data(conn, "base", f"module_{name}", "ir.module.module", module_id, noupdate=True)
    return module_id


def set_module_dependencies(
    conn: psycopg.Connection[Any],
    module_id: int,
    depends: Sequence[str],
    auto_install: bool | Sequence[str] = False,
) -> None:
    """Replace the dependency rows of a module (what ``update_list`` does)."""
    conn.execute("DELETE FROM ir_module_module_dependency WHERE module_id = %s", (module_id,))
    triggers = set(depends) if auto_install is True else set(auto_install or ())
    for dep in depends:
        _insert(conn, "ir_module_module_dependency", {
            "module_id": module_id, "name": dep, "auto_install_required": dep in triggers,
        })


def _parent_path(conn: psycopg.Connection[Any], table: str, parent_id: int | None) -> str:
    if parent_id is None:
        return ""
    row = conn.execute(
        f"SELECT parent_path FROM {table} WHERE id = %s", (parent_id,)  # type: ignore[arg-type]
    ).fetchone()
    if row is None:
        raise ValueError(f"{table} row {parent_id} does not exist")
    return str(row[0] or f"{parent_id}/")


def add_menu(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    action: str | None = None,
    parent_id: int | None = None,
    sequence: int = 10,
    active: bool = True,
    web_icon: str | None = None,
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_ui_menu`` row; ``action`` is a reference like ``'ir.actions.client,3'``.

    ``parent_path`` is maintained as Odoo does (``'1/8/28/'``).
    """
    prefix = _parent_path(conn, "ir_ui_menu", parent_id)
    menu_id = _insert(conn, "ir_ui_menu", {
        "name": _tr(name), "action": action, "parent_id": parent_id, "sequence": sequence,
        "active": active, "web_icon": web_icon, "create_date": _now(), "write_date": _now(),
    })
    conn.execute("UPDATE ir_ui_menu SET parent_path = %s WHERE id = %s",
                 (f"{prefix}{menu_id}/", menu_id))
    _xmlid(conn, xmlid, "ir.ui.menu", menu_id)
    return menu_id


def _action_base(name: str, type_: str) -> dict[str, Any]:
    return {
        "name": _tr(name), "type": type_, "binding_type": "action",
        "binding_view_types": "list,form", "create_date": _now(), "write_date": _now(),
    }


def add_window_action(
    conn: psycopg.Connection[Any],
    name: str,
    res_model: str,
    *,
    view_mode: str | None = None,
    target: str = "current",
    context: str = "{}",
    domain: str | None = None,
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_act_window`` row; returns its id (from ``ir_actions_id_seq``).

    ``view_mode`` defaults to ``'list,form'`` (18+) or ``'tree,form'`` (16, 17).
    """
    if view_mode is None:
        view_mode = "list,form" if detect_version(conn) >= 18 else "tree,form"
    act_id = _insert(conn, "ir_act_window", {
        **_action_base(name, "ir.actions.act_window"),
        "res_model": res_model, "view_mode": view_mode, "target": target,
        "context": context, "domain": domain, "limit": 80, "filter": False,
    })
    _xmlid(conn, xmlid, "ir.actions.act_window", act_id)
    return act_id


def add_client_action(
    conn: psycopg.Connection[Any],
    name: str,
    tag: str,
    *,
    target: str = "current",
    res_model: str | None = None,
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_act_client`` row (``tag`` must be registered by some addon's JS)."""
    act_id = _insert(conn, "ir_act_client", {
        **_action_base(name, "ir.actions.client"),
        "tag": tag, "target": target, "res_model": res_model, "context": "{}",
    })
    _xmlid(conn, xmlid, "ir.actions.client", act_id)
    return act_id


def add_server_action(
    conn: psycopg.Connection[Any],
    name: str,
    model: str,
    *,
    code: str = "",
    state: str = "code",
    usage: str = "ir_actions_server",
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_act_server`` row on ``model`` (its ``ir_model`` row is created if missing)."""
    model_id = add_model(conn, model)
    act_id = _insert(conn, "ir_act_server", {
        **_action_base(name, "ir.actions.server"),
        "model_id": model_id, "model_name": model, "state": state, "usage": usage,
        "code": code, "sequence": 5,
    })
    _xmlid(conn, xmlid, "ir.actions.server", act_id)
    return act_id


def add_report_action(
    conn: psycopg.Connection[Any],
    name: str,
    model: str,
    report_name: str,
    *,
    report_type: str = "qweb-pdf",
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_act_report_xml`` row; returns its id."""
    act_id = _insert(conn, "ir_act_report_xml", {
        **_action_base(name, "ir.actions.report"),
        "model": model, "report_type": report_type, "report_name": report_name,
        "report_file": report_name, "multi": False, "attachment_use": False,
    })
    _xmlid(conn, xmlid, "ir.actions.report", act_id)
    return act_id


def add_url_action(
    conn: psycopg.Connection[Any],
    name: str,
    url: str,
    *,
    target: str = "new",
    xmlid: str | None = None,
) -> int:
    """Insert an ``ir_act_url`` row; returns its id."""
    act_id = _insert(conn, "ir_act_url", {
        **_action_base(name, "ir.actions.act_url"), "url": url, "target": target,
    })
    _xmlid(conn, xmlid, "ir.actions.act_url", act_id)
    return act_id


def add_cron(
    conn: psycopg.Connection[Any],
    version: int,
    name: str,
    *,
    model: str,
    active: bool = True,
    nextcall: datetime | None = None,
    lastcall: datetime | None = None,
    interval_number: int = 1,
    interval_type: str = "days",
    priority: int = 5,
    code: str | None = None,
    user_id: int = 1,
    xmlid: str | None = None,
) -> int:
    """Insert a cron the way Odoo stores one in ``version``; returns the ``ir_cron`` id.

    A cron is an ``ir_act_server`` row (``usage='ir_cron'``, ``state='code'``,
    ``model_id`` of ``model``) plus the ``ir_cron`` row pointing at it through
    ``ir_actions_server_id``; 16/17 also get ``numbercall=-1, doall=false``,
    18/19 ``failure_count=0``. With ``xmlid`` the cron gets that external id
    and its server action ``<xmlid>_ir_actions_server``, as Odoo names them.
    """
    _check_version(version)
    action_id = add_server_action(
        conn, name, model, code=code or "model._cron()", usage="ir_cron",
        xmlid=f"{xmlid}_ir_actions_server" if xmlid else None,
    )
    values: dict[str, Any] = {
        "ir_actions_server_id": action_id,
        "user_id": user_id,
        "active": active,
        "interval_number": interval_number,
        "interval_type": interval_type,
        "nextcall": nextcall or _now(),
        "lastcall": lastcall,
        "priority": priority,
        "create_date": _now(),
        "write_date": _now(),
    }
    if version == 16:
        values.update(cron_name=_tr(name), numbercall=-1, doall=False)
    elif version == 17:
        values.update(cron_name=name, numbercall=-1, doall=False)
    else:
        values.update(cron_name=name, failure_count=0)
    cron_id = _insert(conn, "ir_cron", values)
    _xmlid(conn, xmlid, "ir.cron", cron_id)
    return cron_id


def set_param(conn: psycopg.Connection[Any], key: str, value: str) -> None:
    """Insert or update an ``ir_config_parameter``."""
    conn.execute(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date)"
        " VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date",
        (key, value, _now(), _now()),
    )


def get_param(conn: psycopg.Connection[Any], key: str) -> str | None:
    """The value of an ``ir_config_parameter``, or ``None``."""
    row = conn.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def store_fname_for(content: bytes) -> tuple[str, str]:
    """``(store_fname, checksum)`` of ``content`` as Odoo's filestore names it (sha1)."""
    checksum = hashlib.sha1(content).hexdigest()  # Odoo's own naming scheme
    return f"{checksum[:2]}/{checksum}", checksum


def add_attachment(
    conn: psycopg.Connection[Any],
    name: str,
    store_fname: str | None = None,
    *,
    content: bytes = b"odoo-ops test attachment\n",
    res_model: str | None = None,
    res_id: int | None = None,
    res_field: str | None = None,
    mimetype: str = "application/octet-stream",
    in_db: bool = False,
    url: str | None = None,
    filestore: Path | None = None,
    checksum: str | None = None,
    file_size: int | None = None,
) -> int:
    """Insert an ``ir_attachment`` row; returns its id.

    By default the attachment is *stored in the filestore*: ``store_fname``
    and ``checksum`` are derived from ``content`` (sha1, ``ab/abcdef...``)
    unless given. Only the row is written, unless ``filestore`` (the
    database's filestore directory, ``DATA_DIR/filestore/DBNAME``) is given:
    then the file is written there too. ``in_db=True`` stores ``content`` in
    ``db_datas`` instead; ``url`` makes a ``type='url'`` attachment.
    """
    computed_fname, computed_sum = store_fname_for(content)
    values: dict[str, Any] = {
        "name": name, "res_model": res_model, "res_id": res_id, "res_field": res_field,
        "mimetype": mimetype, "company_id": None, "public": False,
        "create_date": _now(), "write_date": _now(),
    }
    if url is not None:
        values.update(type="url", url=url)
    elif in_db:
        values.update(type="binary", db_datas=content, checksum=checksum or computed_sum,
                      file_size=len(content) if file_size is None else file_size)
    else:
        fname = store_fname or computed_fname
        values.update(type="binary", store_fname=fname, checksum=checksum or computed_sum,
                      file_size=len(content) if file_size is None else file_size)
        if filestore is not None:
            target = Path(filestore) / fname
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return _insert(conn, "ir_attachment", values)


def seed_filestore_files() -> dict[str, bytes]:
    """``{store_fname: content}`` of the attachments :func:`seed_base` inserts."""
    return {store_fname_for(content)[0]: content for _, _, content in _SEED_ATTACHMENTS}


def write_filestore(filestore: Path, files: Mapping[str, bytes] | None = None) -> Path:
    """Write ``files`` (default: the seed's) under ``filestore`` (``DATA_DIR/filestore/DB``)."""
    root = Path(filestore)
    for fname, content in (seed_filestore_files() if files is None else files).items():
        target = root / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def add_partner(
    conn: psycopg.Connection[Any], name: str, *, email: str | None = None,
    is_company: bool = False, active: bool = True, xmlid: str | None = None,
) -> int:
    """Insert a ``res_partner`` row; returns its id."""
    partner_id = _insert(conn, "res_partner", {
        "name": name, "complete_name": name, "email": email, "is_company": is_company,
        "active": active, "type": "contact", "lang": "en_US", "partner_share": True,
        "company_id": None, "create_date": _now(), "write_date": _now(),
    })
    conn.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = %s", (partner_id,))
    _xmlid(conn, xmlid, "res.partner", partner_id)
    return partner_id


def hash_password(password: str, *, salt: bytes = b"odoo-ops-tests!!", rounds: int = 25_000) -> str:
    """An Odoo-style ``$pbkdf2-sha512$`` hash (passlib's format), verifiable by passlib."""
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)

    def ab64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=").replace("+", ".")

    return f"$pbkdf2-sha512${rounds}${ab64(salt)}${ab64(digest)}"


def add_user(
    conn: psycopg.Connection[Any],
    login: str,
    *,
    name: str | None = None,
    password: str | None = None,
    active: bool = True,
    share: bool = False,
    company_id: int = 1,
    groups: Sequence[str] = ("base.group_user",),
    xmlid: str | None = None,
) -> int:
    """Insert a ``res_users`` row (and its partner); returns the user id."""
    partner_id = add_partner(conn, name or login, email=f"{login}@example.com")
    user_id = _insert(conn, "res_users", {
        "login": login, "partner_id": partner_id, "company_id": company_id, "active": active,
        "share": share, "password": hash_password(password) if password else None,
        "create_date": _now(), "write_date": _now(),
    })
    for group in groups:
        gid = ref(conn, group)
        if gid is not None:
            conn.execute("INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, %s)"
                         " ON CONFLICT DO NOTHING", (gid, user_id))
    _xmlid(conn, xmlid, "res.users", user_id)
    return user_id


def add_mail_server(
    conn: psycopg.Connection[Any], name: str, *, active: bool = True,
    host: str = "smtp.example.com", port: int = 587, user: str | None = None,
    password: str | None = None, encryption: str = "starttls",
) -> int:
    """Insert an ``ir_mail_server`` (outgoing SMTP) row; returns its id."""
    return _insert(conn, "ir_mail_server", {
        "name": name, "active": active, "smtp_host": host, "smtp_port": port,
        "smtp_user": user, "smtp_pass": password, "smtp_encryption": encryption,
        "smtp_authentication": "login", "sequence": 10,
        "create_date": _now(), "write_date": _now(),
    })


def add_fetchmail_server(
    conn: psycopg.Connection[Any], name: str, *, active: bool = True,
    server: str = "imap.example.com", state: str = "done", server_type: str = "imap",
) -> int:
    """Insert a ``fetchmail_server`` (incoming mail) row; returns its id."""
    return _insert(conn, "fetchmail_server", {
        "name": name, "active": active, "server": server, "port": 993, "state": state,
        "server_type": server_type, "is_ssl": True, "priority": 5,
        "create_date": _now(), "write_date": _now(),
    })


def add_payment_provider(
    conn: psycopg.Connection[Any], name: str, code: str, *, state: str = "enabled",
    company_id: int = 1,
) -> int:
    """Insert a ``payment_provider`` row (``state``: disabled/enabled/test); returns its id."""
    return _insert(conn, "payment_provider", {
        "name": _tr(name), "code": code, "state": state, "company_id": company_id,
        "is_published": state == "enabled", "sequence": 10,
        "create_date": _now(), "write_date": _now(),
    })


def add_message(
    conn: psycopg.Connection[Any], model: str, res_id: int, body: str, *,
    message_type: str = "comment", author_id: int | None = None,
) -> int:
    """Insert a ``mail_message`` row; returns its id."""
    return _insert(conn, "mail_message", {
        "model": model, "res_id": res_id, "body": body, "message_type": message_type,
        "author_id": author_id, "date": _now(), "create_date": _now(), "write_date": _now(),
    })


# --------------------------------------------------------------------------
# the healthy seed
# --------------------------------------------------------------------------


@dataclass
class SeedSummary:
    """What :func:`seed_base` created (ids by external id), for assertions."""

    version: int
    installed: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)


def model_module(model: str) -> str:
    """The module defining ``model`` in the seed (``mail``, ``payment`` or ``base``)."""
    if model.startswith(("mail.", "fetchmail.", "publisher_warranty.")):
        return "mail"
    if model.startswith("payment."):
        return "payment"
    return "base"


_SEED_MODELS: tuple[tuple[str, str], ...] = tuple(
    (model, model_module(model)) for model in MODEL_TABLES
)


def seed_base(conn: psycopg.Connection[Any], version: int,
              *, install: Sequence[str] = SEED_INSTALL) -> SeedSummary:
    """Fill a fresh :func:`create_odoo_schema` database like a healthy fresh Odoo.

    - company 1 / partners 1-3 / users 1 (``__system__``) and 2 (``admin``,
      password ``admin``), groups ``base.group_user`` and ``base.group_system``;
    - the :data:`CORE_MODULES` of ``version``: ``install`` (default base, web,
      mail, contacts) plus their dependency closure and auto_install modules
      are ``installed`` with ``latest_version`` ``<series>.<version>``
      (``18.0.1.3`` for base), the others ``uninstalled`` (``web_studio``
      ``uninstallable``); dependency rows, categories, ``base.module_*`` ids;
    - ``ir_model`` rows for :data:`MODEL_TABLES` (tables exist, abstract
      models have none) and a few ``ir_model_fields``;
    - root menus Settings, Apps, Discuss, Contacts with children whose
      actions (window, client, server, url) all exist;
    - crons as in the reference (auto-vacuum, portal users deletion, mail
      queue, publisher, notifications, fetchmail inactive), each with its
      ``ir_act_server``; external ids everywhere Odoo has them;
    - parameters ``database.uuid``, ``database.secret``, ``database.create_date``,
      ``web.base.url`` (``http://localhost:8069``) and login cooldowns;
    - two filestore attachments (rows only: :func:`write_filestore` writes the
      files) and three ``mail_message`` rows.

    Every reference in the seed resolves; tests add the broken cases.
    """
    _check_version(version)
    summary = SeedSummary(version=version)
    ids = summary.ids
    serie = series(version)
    with conn.transaction():
        # people ---------------------------------------------------------------
        ids["base.main_partner"] = _insert(conn, "res_partner", {
            "name": "My Company", "complete_name": "My Company", "is_company": True,
            "active": True, "type": "contact", "lang": "en_US", "partner_share": False,
            "create_date": _now(), "write_date": _now(),
        })
        ids["base.partner_root"] = _insert(conn, "res_partner", {
            "name": "OdooBot", "complete_name": "OdooBot", "active": False, "type": "contact",
            "email": "odoobot@example.com", "partner_share": False,
            "create_date": _now(), "write_date": _now(),
        })
        ids["base.partner_admin"] = _insert(conn, "res_partner", {
            "name": "Administrator", "complete_name": "My Company, Administrator",
            "active": True, "type": "contact", "email": "admin@example.com",
            "parent_id": 1, "partner_share": False, "create_date": _now(), "write_date": _now(),
        })
        conn.execute("UPDATE res_partner SET commercial_partner_id = id, company_id = 1")
        ids["base.main_company"] = _insert(conn, "res_company", {
            "name": "My Company", "partner_id": ids["base.main_partner"], "currency_id": 1,
            "sequence": 10, "active": True, "create_date": _now(), "write_date": _now(),
        })
        conn.execute("UPDATE res_company SET parent_path = id || '/'")
        ids["base.user_root"] = _insert(conn, "res_users", {
            "login": "__system__", "partner_id": ids["base.partner_root"], "company_id": 1,
            "active": False, "share": False, "create_date": _now(), "write_date": _now(),
        })
        ids["base.user_admin"] = _insert(conn, "res_users", {
            "login": "admin", "partner_id": ids["base.partner_admin"], "company_id": 1,
            "active": True, "share": False, "password": hash_password("admin"),
            "create_date": _now(), "write_date": _now(),
        })
        conn.execute("UPDATE res_partner SET user_id = 2 WHERE id = 3")
        for xmlid, name in (("base.group_user", "Internal User"),
                            ("base.group_system", "Settings")):
            ids[xmlid] = _insert(conn, "res_groups", {
                "name": _tr(name), "share": False, "create_date": _now(), "write_date": _now(),
            })
            conn.execute("INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, 1), (%s, 2)",
                         (ids[xmlid], ids[xmlid]))
        for xmlid, model in (("base.main_partner", "res.partner"),
                             ("base.partner_root", "res.partner"),
                             ("base.partner_admin", "res.partner"),
                             ("base.main_company", "res.company"),
                             ("base.user_root", "res.users"),
                             ("base.user_admin", "res.users"),
                             ("base.group_user", "res.groups"),
                             ("base.group_system", "res.groups")):
            module, name = _split_xmlid(xmlid)
            add_model_data(conn, module, name, model, ids[xmlid], noupdate=True)

        # modules ----------------------------------------------------------------
        catalogue = core_modules(version)
        graph = {m.name: (m.depends, m.auto_install) for m in catalogue if m.installable}
        to_install = set(install_closure(graph, install))
        for mod in catalogue:
            installed = mod.name in to_install
            state = "installed" if installed else (
                "uninstalled" if mod.installable else "uninstallable")
            add_module(
                conn, mod.name, state=state,
                latest_version=adapt_version(mod.version, serie) if installed else None,
                depends=mod.depends, auto_install=mod.auto_install, author=mod.author,
                license=mod.license, category=mod.category, shortdesc=mod.shortdesc,
                application=mod.application,
            )
        summary.installed = sorted(to_install)

        def has(xmlid: str) -> bool:
            return _split_xmlid(xmlid)[0] in to_install

        # models -------------------------------------------------------------------
        for model, module in _SEED_MODELS:
            xmlid = f"{module}.model_{model.replace('.', '_')}"
            if module == "base" or module in to_install:
                ids[xmlid] = add_model(conn, model, module=module, name=model)
        for model, fname, ttype in (("res.partner", "name", "char"),
                                    ("res.partner", "email", "char"),
                                    ("res.users", "login", "char"),
                                    ("ir.module.module", "name", "char"),
                                    ("ir.module.module", "state", "selection"),
                                    ("mail.message", "body", "html")):
            if model_module(model) in to_install:
                add_field(conn, model, fname, ttype)

        # actions ------------------------------------------------------------------
        all_acts = {
            "base.action_res_users": add_window_action(
                conn, "Users", "res.users", xmlid="base.action_res_users"),
            "base.ir_config_list_action": add_window_action(
                conn, "System Parameters", "ir.config_parameter",
                xmlid="base.ir_config_list_action"),
            "base.ir_cron_act": add_window_action(
                conn, "Scheduled Actions", "ir.cron", xmlid="base.ir_cron_act"),
            "base.open_module_tree": add_window_action(
                conn, "Apps", "ir.module.module", view_mode="kanban,list,form",
                xmlid="base.open_module_tree"),
            "contacts.action_contacts": add_window_action(
                conn, "Contacts", "res.partner", view_mode="kanban,list,form",
                xmlid="contacts.action_contacts"),
            "base.action_client_base_menu": add_client_action(
                conn, "Open Settings Menu", "reload", xmlid="base.action_client_base_menu"),
            "mail.action_discuss": add_client_action(
                conn, "Discuss", "mail.action_discuss", xmlid="mail.action_discuss"),
            "base.action_run_ir_action_todo": add_server_action(
                conn, "Config: Run Remaining Action Todo", "res.config",
                code="config = model.next() or {}\naction = config\n",
                xmlid="base.action_run_ir_action_todo"),
            "base.action_third_party": add_url_action(
                conn, "Third-Party Apps", "https://apps.odoo.com/apps",
                xmlid="base.action_third_party"),
            "base.report_ir_model_overview": add_report_action(
                conn, "Model Overview", "ir.model", "base.report_irmodeloverview",
                xmlid="base.report_ir_model_overview"),
        }
        acts = {xmlid: act for xmlid, act in all_acts.items() if has(xmlid)}
        ids.update(acts)

        # menus --------------------------------------------------------------------
        def menu(xmlid: str, name: str, *, parent: str | None = None,
                 action: str | None = None, sequence: int = 10,
                 web_icon: str | None = None) -> int | None:
            if not has(xmlid) or (action and action not in acts):
                return None
            ref_ = None
            if action:
                model = {"base.action_client_base_menu": "ir.actions.client",
                         "mail.action_discuss": "ir.actions.client",
                         "base.action_run_ir_action_todo": "ir.actions.server",
                         "base.action_third_party": "ir.actions.act_url"}.get(
                    action, "ir.actions.act_window")
                ref_ = f"{model},{acts[action]}"
            if parent and parent not in ids:
                return None
            ids[xmlid] = add_menu(conn, name, action=ref_, sequence=sequence,
                                  parent_id=ids[parent] if parent else None,
                                  web_icon=web_icon, xmlid=xmlid)
            return ids[xmlid]

        menu("mail.menu_root_discuss", "Discuss", action="mail.action_discuss", sequence=5,
             web_icon="mail,static/description/icon.png")
        menu("contacts.menu_contacts", "Contacts", sequence=20,
             web_icon="contacts,static/description/icon.png")
        menu("contacts.res_partner_menu_contacts", "Contacts", parent="contacts.menu_contacts",
             action="contacts.action_contacts", sequence=2)
        menu("base.menu_management", "Apps", sequence=500,
             web_icon="base,static/description/modules.png")
        menu("base.menu_module_tree", "Apps", parent="base.menu_management",
             action="base.open_module_tree", sequence=5)
        menu("base.menu_third_party", "Third-Party Apps", parent="base.menu_management",
             action="base.action_third_party", sequence=20)
        menu("base.menu_administration", "Settings", sequence=550,
             web_icon="base,static/description/settings.png")
        menu("base.menu_users", "Users & Companies", parent="base.menu_administration",
             sequence=1)
        menu("base.menu_action_res_users", "Users", parent="base.menu_users",
             action="base.action_res_users", sequence=0)
        menu("base.menu_custom", "Technical", parent="base.menu_administration", sequence=110)
        menu("base.menu_ir_property", "Parameters", parent="base.menu_custom", sequence=24)
        menu("base.ir_config_menu", "System Parameters", parent="base.menu_ir_property",
             action="base.ir_config_list_action")
        menu("base.menu_automation", "Automation", parent="base.menu_custom")
        menu("base.menu_ir_cron_act", "Scheduled Actions", parent="base.menu_automation",
             action="base.ir_cron_act", sequence=2)
        menu("base.menu_ir_actions_todo_run", "Run Remaining Action Todo",
             parent="base.menu_automation", action="base.action_run_ir_action_todo",
             sequence=50)
        menu("base.menu_reload", "Reload", parent="base.menu_administration",
             action="base.action_client_base_menu", sequence=999)

        # crons (as in reference/odoo-18/ir_cron.txt) -------------------------------------
        start = _now().replace(second=0) + timedelta(minutes=5)
        for xmlid, name, model, active, number, unit, prio, code in (
            ("base.autovacuum_job", "Base: Auto-vacuum internal data", "ir.autovacuum",
             True, 1, "days", 3, "model._run_vacuum_cleaner()"),
            ("base.ir_cron_res_users_deletion", "Base: Portal Users Deletion",
             "res.users.deletion", True, 1, "days", 8, "model._gc_portal_users(batch_size=50)"),
            ("mail.ir_cron_mail_scheduler_action", "Mail: Email Queue Manager", "mail.mail",
             True, 1, "hours", 6, "model.process_email_queue(batch_size=1000)"),
            ("mail.ir_cron_module_update_notification", "Publisher: Update Notification",
             "publisher_warranty.contract", True, 1, "weeks", 1000,
             "model.update_notification(None)"),
            ("mail.ir_cron_delete_notification",
             "Notification: Delete Notifications older than 6 Month", "mail.notification",
             True, 1, "days", 5, "model._gc_notifications(max_age_days=180)"),
            ("mail.ir_cron_mail_gateway_action", "Mail: Fetchmail Service", "fetchmail.server",
             False, 5, "minutes", 5, "model._fetch_mails()"),
        ):
            if not has(xmlid):
                continue
            ids[xmlid] = add_cron(conn, version, name, model=model, active=active,
                                  nextcall=start, interval_number=number, interval_type=unit,
                                  priority=prio, code=code, xmlid=xmlid)

        # parameters -------------------------------------------------------------------
        for key, value in (
            ("database.secret", str(uuid.uuid4())),
            ("database.uuid", str(uuid.uuid1())),
            ("database.create_date", _now().strftime("%Y-%m-%d %H:%M:%S")),
            ("web.base.url", "http://localhost:8069"),
            ("base.login_cooldown_after", "10"),
            ("base.login_cooldown_duration", "60"),
        ):
            set_param(conn, key, value)

        # attachments and messages ---------------------------------------------------------
        for res_field, mimetype, content in _SEED_ATTACHMENTS:
            add_attachment(conn, res_field, content=content, res_model="res.partner",
                           res_id=ids["base.main_partner"], res_field=res_field,
                           mimetype=mimetype)
        bodies = ("<p>Welcome!</p>", "<p>Second note</p>", "<p>Third note</p>")
        for body in bodies if "mail" in to_install else ():
            add_message(conn, "res.partner", ids["base.partner_admin"], body,
                        author_id=ids["base.partner_root"])
    return summary
