"""Is there an ``odoo-addon-NAME`` wheel for the target series on the package index?

OCA publishes every addon it releases as a wheel (``odoo-addon-NAME`` from 17.0 on,
``odoo14-addon-NAME`` .. ``odoo16-addon-NAME`` before), versioned
``<series>.x.y.z``. ``upgrade plan`` asks the index about the OCA modules that are
not on the target addons path:

- a PyPI-style JSON API (``[upgrade] registry_url``, default
  ``https://pypi.org/pypi``): ``GET <url>/<project>/json`` and its ``releases``;
- a simple index (a URL whose path ends with ``/simple``): ``GET <url>/<project>/``
  (PEP 503 HTML or PEP 691 JSON), the wheel file names of its links.

Each answer is ``yes`` (with the newest version of the series), ``no`` (the
project or the series is not there) or ``unknown`` (no answer within
``registry_timeout``, offline, an error status): unknown never fails a plan.
Answers yes/no are cached for ``registry_cache_hours`` per index URL under the
user's cache directory. The JSON and HTML read are data, never run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

YES = "yes"
NO = "no"
UNKNOWN = "unknown"
MAX_BODY = 8 << 20
MAX_PARALLEL = 8
_VERSION = re.compile(r"^(\d+\.\d+)\.[0-9A-Za-z.+!]+$")


@dataclass(frozen=True)
class Answer:
    status: str  # yes | no | unknown
    project: str
    version: str | None = None
    detail: str = ""


def project_name(module: str, series: str) -> str:
    """The distribution of an OCA addon for ``series`` (PEP 503 normalised)."""
    major = int(series.split(".")[0])
    prefix = "odoo-addon-" if major >= 17 else f"odoo{major}-addon-"
    return re.sub(r"[-_.]+", "-", prefix + module).lower()


def _newest(versions: list[str], series: str) -> str | None:
    mine = [v for v in versions if (m := _VERSION.match(v)) and m[1] == series]
    if not mine:
        return None
    return max(mine, key=lambda v: tuple(int(p) if p.isdigit() else -1 for p in v.split(".")))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._in_a = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.names.append(href.split("#")[0].rstrip("/").rsplit("/", 1)[-1])


def _wheel_versions(files: list[str], project: str) -> list[str]:
    stem = project.replace("-", "_")
    out = []
    for name in files:
        if not name.endswith(".whl"):
            continue
        parts = name[:-4].split("-")
        if len(parts) >= 5 and parts[0].lower().replace(".", "_") == stem:
            out.append(parts[1])
    return out


class Registry:
    """Asks one package index, with a bounded timeout and a cache."""

    def __init__(self, url: str, *, timeout: float = 5.0, cache_dir: Path | None = None,
                 max_age_hours: float = 24.0) -> None:
        self.url = url.rstrip("/")
        self.simple = self.url.endswith("/simple")
        self.timeout = timeout
        self.max_age = max_age_hours * 3600
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.cache_file = cache_dir / "registry" / f"{key}.json" if cache_dir else None
        self._cache = self._load()

    def _load(self) -> dict[str, Any]:
        if self.cache_file is None or not self.cache_file.is_file():
            return {}
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        if self.cache_file is None:
            return
        from odoo_ops.fileutil import atomic_write_text

        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.cache_file, json.dumps(self._cache, indent=1) + "\n")
        except OSError:
            pass  # a cache that cannot be written only costs a lookup next time

    def lookup(self, modules: list[str], series: str) -> dict[str, Answer]:
        """{module: Answer} for ``series``; several questions at once, each bounded."""
        out: dict[str, Answer] = {}
        ask: list[str] = []
        now = time.time()
        for module in dict.fromkeys(modules):
            cached = self._cache.get(f"{series}:{module}")
            if (isinstance(cached, list) and len(cached) == 3 and cached[0] in (YES, NO)
                    and isinstance(cached[2], (int, float)) and now - cached[2] < self.max_age):
                out[module] = Answer(cached[0], project_name(module, series), cached[1],
                                     "cached")
            else:
                ask.append(module)
        if ask:
            import httpx

            with httpx.Client(timeout=self.timeout, follow_redirects=True,
                              headers={"User-Agent": "odoo-ops upgrade plan"}) as client, \
                    ThreadPoolExecutor(min(MAX_PARALLEL, len(ask))) as pool:
                answers = list(pool.map(lambda m: self._ask(client, m, series), ask))
            for module, answer in zip(ask, answers, strict=True):
                out[module] = answer
                if answer.status in (YES, NO):
                    self._cache[f"{series}:{module}"] = [answer.status, answer.version, now]
            self._save()
        return out

    def _ask(self, client: Any, module: str, series: str) -> Answer:
        import httpx

        project = project_name(module, series)
        url = f"{self.url}/{project}/" if self.simple else f"{self.url}/{project}/json"
        headers = ({"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.5"}
                   if self.simple else {"Accept": "application/json"})
        try:
            resp = client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(UNKNOWN, project, None, f"{type(exc).__name__}: {exc}"[:200])
        if resp.status_code == 404:
            return Answer(NO, project, None, "not on the index")
        if resp.status_code != 200:
            return Answer(UNKNOWN, project, None, f"the index answered {resp.status_code}")
        if len(resp.content) > MAX_BODY:
            return Answer(UNKNOWN, project, None, "the index's answer is too large")
        try:
            versions = self._versions(resp, project)
        except ValueError as exc:
            return Answer(UNKNOWN, project, None, f"unreadable answer: {exc}"[:200])
        newest = _newest(versions, series)
        if newest is None:
            return Answer(NO, project, None, f"no {series} release")
        return Answer(YES, project, newest)

    def _versions(self, resp: Any, project: str) -> list[str]:
        ctype = resp.headers.get("content-type", "")
        if not self.simple:
            data = resp.json()
            releases = data.get("releases") if isinstance(data, dict) else None
            if not isinstance(releases, dict):
                raise ValueError("no releases")
            return [str(v) for v, files in releases.items() if files]
        if "json" in ctype:
            data = resp.json()
            files = data.get("files") if isinstance(data, dict) else None
            if not isinstance(files, list):
                raise ValueError("no files")
            return _wheel_versions([str(f.get("filename", "")) for f in files
                                    if isinstance(f, dict)], project)
        parser = _Links()
        parser.feed(resp.text)
        return _wheel_versions(parser.names, project)


def registry_for(cfg: Any) -> Registry | None:
    """The index of ``[upgrade] registry_url`` ("" or ODOO_OPS_OFFLINE=1: none)."""
    from odoo_ops.addons.cache import user_cache_dir

    if not cfg.registry_url or os.environ.get("ODOO_OPS_OFFLINE") == "1":
        return None
    return Registry(cfg.registry_url, timeout=cfg.registry_timeout,
                    cache_dir=user_cache_dir(), max_age_hours=cfg.registry_cache_hours)
