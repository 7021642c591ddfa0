"""Reading ``__manifest__.py`` files without running them.

A manifest is parsed with :mod:`ast` and turned into a value with
:func:`ast.literal_eval`: addon code is never imported, evaluated or executed.
The checks on the value follow what Odoo 16+ accepts when it loads a manifest
(``odoo/modules/module.py``), and every error names the file and the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import ManifestError
from odoo_ops.inputs import MANIFEST_LIMIT, is_regular_file, read_input_bytes

if TYPE_CHECKING:
    import ast

MANIFEST_NAME = "__manifest__.py"
LEGACY_MANIFEST_NAME = "__openerp__.py"
#: How a manifest file is named in errors about reading it.
MANIFEST_KIND = "addon manifest"

#: The keys of ``external_dependencies`` that odoo-ops checks.
EXTERNAL_KINDS = ("python", "bin")


@dataclass(frozen=True, slots=True)
class Addon:
    """One addon directory and the facts of its manifest that odoo-ops uses.

    ``version`` is the raw manifest string (``None`` when absent; Odoo then uses
    ``1.0``). ``auto_install`` is ``False``, ``True`` (install when every
    dependency is installed) or the tuple of the dependencies that trigger it.
    """

    name: str
    path: Path
    manifest_path: Path
    version: str | None = None
    depends: tuple[str, ...] = ()
    auto_install: bool | tuple[str, ...] = False
    installable: bool = True
    application: bool = False
    author: str | None = None
    license: str | None = None
    website: str | None = None
    summary: str | None = None
    external_dependencies: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, hash=False, compare=True
    )

    @property
    def auto_install_triggers(self) -> frozenset[str] | None:
        """The addons whose installation triggers this one, or ``None`` if never."""
        if self.auto_install is False:
            return None
        if self.auto_install is True:
            return frozenset(self.depends)
        return frozenset(self.auto_install)

    @property
    def python_dependencies(self) -> tuple[str, ...]:
        return self.external_dependencies.get("python", ())

    @property
    def bin_dependencies(self) -> tuple[str, ...]:
        return self.external_dependencies.get("bin", ())


class ManifestProblem(ManifestError):
    """Why a manifest text is refused, before it is known which file it is.

    ``line`` is the 1-based line (when known), ``reason`` the explanation and
    ``hint`` what to do. :meth:`error` turns it into a
    :class:`~odoo_ops.errors.ManifestError` that names the file.
    """

    def __init__(self, reason: str, line: int | None = None, hint: str | None = None) -> None:
        super().__init__(reason, hint)
        self.reason = reason
        self.line = line
        self.hint = hint

    def located(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.reason}"

    def error(self, source: str) -> ManifestError:
        return ManifestError(self.located(source), hint=self.hint)


def _first_non_literal(tree: ast.AST) -> ast.AST | None:
    """The first node that :func:`ast.literal_eval` refuses (for the error line)."""
    import ast

    literal_nodes = (
        ast.Expression, ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set,
        ast.UnaryOp, ast.UAdd, ast.USub, ast.Load,
    )  # fmt: skip
    for node in ast.walk(tree):
        if not isinstance(node, literal_nodes):
            return node
    return None


def _key_line(tree: ast.Expression | None, key: str) -> int | None:
    """The line where ``key`` is written in a manifest dict (or where the dict starts)."""
    if tree is None:
        return None
    import ast

    body = tree.body
    if isinstance(body, ast.Dict):
        for k in body.keys:
            if isinstance(k, ast.Constant) and k.value == key:
                return k.lineno
    return getattr(body, "lineno", None)


class _NotPlain(Exception):
    """A node :func:`_plain_literal` leaves to :func:`ast.literal_eval`."""


def _plain_literal(node: ast.AST, ast_module: Any) -> Any:
    """The value of constants, lists, dicts, tuples and sets (what manifests hold).

    A shortcut for :func:`ast.literal_eval`, which checks more node kinds for
    each node; any other node raises :class:`_NotPlain` and the caller asks
    ``ast.literal_eval`` itself, so the result is always the one Odoo gets.
    """
    kind = type(node)
    if kind is ast_module.Constant:
        return node.value  # type: ignore[attr-defined]
    if kind is ast_module.List:
        return [_plain_literal(e, ast_module) for e in node.elts]  # type: ignore[attr-defined]
    if kind is ast_module.Dict:
        keys, values = node.keys, node.values  # type: ignore[attr-defined]
        if None in keys:  # {**other}
            raise _NotPlain
        return {
            _plain_literal(k, ast_module): _plain_literal(v, ast_module)
            for k, v in zip(keys, values, strict=True)
        }
    if kind is ast_module.Tuple:
        return tuple(_plain_literal(e, ast_module) for e in node.elts)  # type: ignore[attr-defined]
    if kind is ast_module.Set:
        return {_plain_literal(e, ast_module) for e in node.elts}  # type: ignore[attr-defined]
    raise _NotPlain


def _parse(text: str) -> tuple[Any, ast.Expression]:
    import ast  # only when parsing: a run served by the cache does not pay for it

    try:
        # as ast.literal_eval (and so Odoo) does: spaces and tabs before the text go
        tree = ast.parse(text.lstrip(" \t"), mode="eval")
    except SyntaxError as exc:
        raise ManifestProblem(exc.msg or "invalid syntax", exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise ManifestProblem(f"cannot be parsed ({exc or type(exc).__name__})") from None
    try:
        try:
            value = _plain_literal(tree.body, ast)
        except (_NotPlain, TypeError, RecursionError):
            value = ast.literal_eval(tree)  # anything else: exactly what Odoo does
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        node = _first_non_literal(tree)
        what = type(node).__name__ if node is not None else "expression"
        raise ManifestProblem(
            f"not a literal value ({what}); a manifest must be a plain dict of literals",
            getattr(node, "lineno", None),
        ) from None
    return value, tree


def _wrong_type(
    tree: ast.Expression | None, key: str, expected: str, value: Any
) -> ManifestProblem:
    return ManifestProblem(
        f"{key!r} must be {expected}, not {type(value).__name__}", _key_line(tree, key)
    )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _check(manifest: dict[str, Any], tree: ast.Expression | None) -> None:
    """Check the types of the keys odoo-ops reads (raise :class:`ManifestProblem`)."""
    for key in ("name", "version", "author", "license", "website", "summary", "category"):
        value = manifest.get(key)
        if value is not None and not isinstance(value, str):
            raise _wrong_type(tree, key, "a string", value)
    for key in ("installable", "application"):
        value = manifest.get(key)
        if value is not None and not isinstance(value, bool):
            raise _wrong_type(tree, key, "True or False", value)
    depends = manifest.get("depends", [])
    if not _is_str_list(depends):
        raise _wrong_type(tree, "depends", "a list of addon names", depends)
    auto = manifest.get("auto_install", False)
    if not isinstance(auto, bool):
        if not (_is_str_list(auto) or (isinstance(auto, set) and _is_str_list(list(auto)))):
            raise _wrong_type(tree, "auto_install", "True, False or a list of addon names", auto)
        extra = sorted(set(auto) - set(depends))
        if extra:
            raise ManifestProblem(
                f"'auto_install' names addons that are not dependencies: {', '.join(extra)}",
                _key_line(tree, "auto_install"),
                hint="Odoo refuses such a manifest; add them to 'depends'",
            )
    ext = manifest.get("external_dependencies", {})
    if not isinstance(ext, dict) or not all(isinstance(k, str) for k in ext):
        raise _wrong_type(tree, "external_dependencies", "a dict", ext)
    for kind, names in ext.items():
        if not _is_str_list(names):
            raise ManifestProblem(
                f"external_dependencies[{kind!r}] must be a list of strings",
                _key_line(tree, "external_dependencies"),
            )


def parse_manifest(text: str) -> dict[str, Any]:
    """Parse and check the text of a manifest (raises :class:`ManifestProblem`)."""
    value, tree = _parse(text)
    if not isinstance(value, dict):
        raise ManifestProblem(
            f"the manifest must be a dict, not {type(value).__name__}",
            getattr(tree.body, "lineno", None),
        )
    for key in value:
        if not isinstance(key, str):
            raise ManifestProblem(f"manifest keys must be strings, found {key!r}")
    _check(value, tree)
    return value


def read_manifest_text(text: str, source: str = "<manifest>") -> dict[str, Any]:
    """Parse and check the text of a manifest; ``source`` names it in errors.

    Raises :class:`~odoo_ops.errors.ManifestError` (``source:line: reason``) when
    the text is not a literal dict with string keys or a key has the wrong type.
    """
    try:
        return parse_manifest(text)
    except ManifestProblem as problem:
        raise problem.error(source) from None


def decode_manifest(data: bytes) -> str:
    """The text of a manifest file (raises :class:`ManifestProblem`).

    UTF-8, as Odoo reads it. Odoo does not strip a byte-order mark, and the
    parser refuses one: such a manifest is reported, not silently accepted.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        raise ManifestProblem(
            "starts with a UTF-8 byte-order mark, which Odoo cannot parse",
            1,
            hint="save the file as UTF-8 without BOM",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestProblem(f"not valid UTF-8 ({exc.reason})") from None


def read_manifest(addon_dir: str | Path, *, display_path: str | None = None) -> dict[str, Any]:
    """Read and check ``addon_dir/__manifest__.py``; return the manifest dict.

    ``__openerp__.py`` is refused: Odoo 16 and later read only ``__manifest__.py``.
    ``display_path`` is how the file is named in errors (default: the path given).
    """
    directory = Path(addon_dir)
    path = directory / MANIFEST_NAME
    source = display_path or str(path)
    data = read_input_bytes(
        path, kind=MANIFEST_KIND, limit=MANIFEST_LIMIT, error=ManifestError, display=source,
        missing_ok=True,
    )  # fmt: skip
    if data is None:
        if is_regular_file(directory / LEGACY_MANIFEST_NAME):
            raise ManifestError(
                f"{directory / LEGACY_MANIFEST_NAME}: __openerp__.py is not read by Odoo 16+",
                hint="rename it to __manifest__.py",
            )
        raise ManifestError(f"{source}: no such file")
    try:
        return parse_manifest(decode_manifest(data))
    except ManifestProblem as problem:
        raise problem.error(source) from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def addon_fields(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The facts :class:`Addon` keeps, as plain JSON-able values (cacheable).

    ``manifest`` must have passed :func:`parse_manifest`.
    """
    auto = manifest.get("auto_install", False)
    ext_raw = manifest.get("external_dependencies") or {}
    return {
        "version": _text(manifest.get("version")),
        "depends": list(manifest.get("depends", ())),
        "auto_install": auto if isinstance(auto, bool) else sorted(set(auto)),
        "installable": manifest.get("installable", True) is not False,
        "application": bool(manifest.get("application", False)),
        "author": _text(manifest.get("author")),
        "license": _text(manifest.get("license")),
        "website": _text(manifest.get("website")),
        "summary": _text(manifest.get("summary")),
        "external_dependencies": {
            k: list(v) for k, v in ext_raw.items() if k in EXTERNAL_KINDS and v
        },
    }


def addon_from_fields(name: str, path: Path, fields: Mapping[str, Any]) -> Addon:
    """Build an :class:`Addon` from :func:`addon_fields` output."""
    auto = fields["auto_install"]
    return Addon(
        name=name,
        path=path,
        manifest_path=path / MANIFEST_NAME,
        version=fields["version"],
        depends=tuple(fields["depends"]),
        auto_install=auto if isinstance(auto, bool) else tuple(auto),
        installable=fields["installable"],
        application=fields["application"],
        author=fields["author"],
        license=fields["license"],
        website=fields["website"],
        summary=fields["summary"],
        external_dependencies={k: tuple(v) for k, v in fields["external_dependencies"].items()},
    )


def addon_from_manifest(name: str, path: Path, manifest: Mapping[str, Any]) -> Addon:
    """Build an :class:`Addon` from a manifest already checked by :func:`parse_manifest`."""
    return addon_from_fields(name, path, addon_fields(manifest))


def load_addon(addon_dir: str | Path, *, display_path: str | None = None) -> Addon:
    """Read one addon directory into an :class:`Addon` (raises :class:`ManifestError`)."""
    directory = Path(addon_dir)
    manifest = read_manifest(directory, display_path=display_path)
    return addon_from_manifest(directory.name, directory, manifest)
