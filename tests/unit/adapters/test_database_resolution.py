"""The database a run uses is resolved once: ``-d`` > ``database =`` > odoo.conf
``db_name`` > the dsn's database; a dsn that names another database is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from odoo_ops.adapters import Target, Unavailable
from odoo_ops.adapters.database import Database, dsn_for_database
from odoo_ops.adapters.locking import deployment_lock_name
from odoo_ops.adapters.project import Overrides, resolve_project
from odoo_ops.errors import ConfigError

URL_A = "postgresql://odoo:pw-7x@127.0.0.1:5432/A"
URL_NONE = "postgresql://odoo:pw-7x@127.0.0.1:5432"
KW_A = "host=127.0.0.1 port=5432 user=odoo dbname=A"
KW_NONE = "host=127.0.0.1 port=5432 user=odoo"


def make_target(
    tmp_path: Path,
    *,
    dsn: str | None = None,
    database: str | None = None,
    db_name: str | None = None,
    cli_d: str | None = None,
) -> Target:
    lines = ["[deployments.prod]"]
    if dsn is not None:
        lines.append(f"dsn = {json.dumps(dsn)}")
    if database is not None:
        lines.append(f'database = "{database}"')
    if db_name is not None:
        (tmp_path / "odoo.conf").write_text(
            f"[options]\ndb_name = {db_name}\ndb_host = 127.0.0.1\ndb_user = odoo\n"
        )
        lines.append('odoo_conf = "odoo.conf"')
    (tmp_path / "odoo-ops.toml").write_text("\n".join(lines) + "\n")
    project = resolve_project(tmp_path, environ={}, overrides=Overrides(database=cli_d))
    return Target(project)


def dbname_of(dsn: str) -> str | None:
    value = conninfo_to_dict(dsn).get("dbname")
    return str(value) if value else None


# (dsn, database =, odoo.conf db_name, -d) -> the database used
PRECEDENCE = [
    # -d beats everything that does not contradict an explicit dsn database
    (URL_NONE, "T", "C", "B", "B"),
    (KW_NONE, None, None, "B", "B"),
    (None, "T", "C", "B", "B"),
    # database = beats db_name and fills a dsn without one
    (URL_NONE, "T", "C", None, "T"),
    (KW_NONE, "T", None, None, "T"),
    (None, "T", "C", None, "T"),
    # db_name fills a dsn without one
    (URL_NONE, None, "C", None, "C"),
    (None, None, "C", None, "C"),
    # the dsn's own database, alone or confirmed by the others
    (URL_A, None, None, None, "A"),
    (KW_A, None, None, None, "A"),
    (URL_A, "A", "A", "A", "A"),
    (KW_A, None, None, "A", "A"),
]


@pytest.mark.parametrize(("dsn", "database", "db_name", "cli_d", "expected"), PRECEDENCE)
def test_precedence_and_every_consumer_agrees(
    tmp_path: Path,
    dsn: str | None,
    database: str | None,
    db_name: str | None,
    cli_d: str | None,
    expected: str,
) -> None:
    target = make_target(tmp_path, dsn=dsn, database=database, db_name=db_name, cli_d=cli_d)
    assert target.database_name == expected
    # the connection, the Database adapter, the lock and the filestore all name it
    assert dbname_of(target.dsn()) == expected
    assert target.database().name == expected
    assert deployment_lock_name(target) == f"deployment:prod:{expected}"
    assert target.odoo().database == expected


# (dsn, database =, odoo.conf db_name, -d) -> the start of the refusal
CONFLICTS = [
    (URL_A, None, None, "B", "-d B but the dsn names database A"),
    (KW_A, None, None, "B", "-d B but the dsn names database A"),
    (URL_A, "A", None, "B", "-d B but the dsn names database A"),
    (URL_A, "B", None, None, "database = B but the dsn names database A"),
    (KW_A, None, "B", None, "odoo.conf db_name = B but the dsn names database A"),
    (URL_A, None, "A", "B", "-d B but the dsn names database A"),
]


@pytest.mark.parametrize(("dsn", "database", "db_name", "cli_d", "message"), CONFLICTS)
def test_a_dsn_naming_another_database_is_refused(
    tmp_path: Path,
    dsn: str,
    database: str | None,
    db_name: str | None,
    cli_d: str | None,
    message: str,
) -> None:
    target = make_target(tmp_path, dsn=dsn, database=database, db_name=db_name, cli_d=cli_d)
    for use in (lambda: target.database_name, target.dsn, target.database,
                lambda: deployment_lock_name(target)):
        with pytest.raises(ConfigError) as info:
            use()
        text = info.value.message
        assert text.startswith(message)
        assert "remove the database from the dsn or pass -d A" in text
        assert "\n" not in text and "pw-7x" not in text


def test_a_dsn_without_database_and_nothing_else_is_unavailable(tmp_path: Path) -> None:
    target = make_target(tmp_path, dsn=URL_NONE)
    assert target.database_name is None
    with pytest.raises(Unavailable, match="no database configured"):
        target.dsn()


def test_an_invalid_dsn_is_a_config_error_without_the_password(tmp_path: Path) -> None:
    target = make_target(tmp_path, dsn="host=x password=pw-7x 'unterminated", cli_d="B")
    with pytest.raises(ConfigError) as info:
        target.dsn()
    assert "invalid database DSN" in info.value.message
    assert "pw-7x" not in f"{info.value.message} {info.value.hint}"


def test_a_url_dsn_stays_a_url_with_only_the_database_changed() -> None:
    assert dsn_for_database(URL_A + "?sslmode=require", "B") == (
        "postgresql://odoo:pw-7x@127.0.0.1:5432/B?sslmode=require"
    )
    assert dsn_for_database("postgresql:///A?host=/run/pg", "B") == (
        "postgresql:///B?host=/run/pg"
    )
    assert dbname_of(dsn_for_database(KW_A, "B")) == "B"
    assert Database(URL_A).with_database("B").dsn == "postgresql://odoo:pw-7x@127.0.0.1:5432/B"


_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    dsn=st.sampled_from([URL_A, URL_NONE, KW_A, KW_NONE, "postgresql:///A?host=/run/pg"]),
    name=_NAMES,
)
def test_any_database_name_round_trips_through_the_dsn(dsn: str, name: str) -> None:
    out = dsn_for_database(dsn, name)
    params = conninfo_to_dict(out)
    assert params["dbname"] == name
    before = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "dbname"}
    assert {k: v for k, v in params.items() if k != "dbname"} == before


_CHOICE = st.sampled_from([None, "A", "B", "C"])


@settings(max_examples=60, deadline=None)
@given(dsn_db=_CHOICE, database=_CHOICE, db_name=_CHOICE, cli_d=_CHOICE, url=st.booleans())
def test_every_combination_resolves_by_precedence_or_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
    dsn_db: str | None,
    database: str | None,
    db_name: str | None,
    cli_d: str | None,
    url: bool,
) -> None:
    base = URL_NONE if url else KW_NONE
    dsn = dsn_for_database(base, dsn_db) if dsn_db else base
    target = make_target(
        tmp_path_factory.mktemp("p"), dsn=dsn, database=database, db_name=db_name, cli_d=cli_d
    )
    named = cli_d or database or db_name
    if named and dsn_db and named != dsn_db:
        with pytest.raises(ConfigError, match="but the dsn names database"):
            target.dsn()
        return
    expected = named or dsn_db
    if expected is None:
        with pytest.raises(Unavailable):
            target.dsn()
        return
    assert target.database_name == expected
    assert dbname_of(target.dsn()) == expected == target.database().name
    assert deployment_lock_name(target) == f"deployment:prod:{expected}"


def test_filestore_dir_of_a_database_named_by_odoo_conf_stays_under_data_dir(
    tmp_path: Path,
) -> None:
    """db_name comes from odoo.conf, not the command line: checked where it becomes a path."""
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.project import resolve_project
    from odoo_ops.errors import OpsError

    (tmp_path / "odoo.conf").write_text(
        f"[options]\ndb_name = ../../escape\ndata_dir = {tmp_path / 'data'}\n"
    )
    (tmp_path / "odoo-ops.toml").write_text(
        '[deployments.prod]\nseries = "18.0"\nodoo_conf = "odoo.conf"\n'
    )
    target = Target(resolve_project(tmp_path, environ={}))
    with pytest.raises(OpsError):
        target.filestore_dir()
    assert target.filestore_dir("prod_db") == tmp_path / "data" / "filestore" / "prod_db"
