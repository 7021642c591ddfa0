"""The images of the real-Docker test tier (tests marked ``docker``), keyed on
their inputs, and the clean-up of what a killed run left behind.

Three images, built FROM ``local/bookworm:base`` (``../shared/docker/setup-engine.sh``):

- ``odoo-ops-test/db:15-<key>``: ``../shared/docker/db`` (PostgreSQL 15);
- ``odoo-ops-test/odoo:18-<key>``: ``../shared/docker/odoo`` with the trimmed
  Odoo 18 tarball of ``../shared/odoo`` and the host's CA bundle;
- ``odoo-ops-test/postgres:15-<key>``: ``tests/support/postgres_image``, a local
  stand-in for the official ``postgres:15`` image -- there is no image registry
  here to pull that one from -- also tagged ``postgres:15``, so that the
  ``FROM postgres:15`` of the db/Dockerfile ``odoo-ops init --pitr`` generates
  builds on it unchanged (:func:`ensure_postgres_standin`).

``<key>`` hashes every file of the build context, so an image is rebuilt
exactly when one of its inputs changes, and reused by every run until then
(the engine keeps it). With a cache directory (CI: ``$ODOO_OPS_CI_CACHE``) a
built image is also saved there (``docker save | zstd``) and loaded from it
on a machine whose engine lost it (``zstd -d | docker load``): a load is
seconds, a build minutes.

Standard library only: ``.ci/setup.d/50-docker.sh`` runs it before the
project is installed (``python3 tests/support/docker_images.py --cache DIR
--clean``); the tests import :func:`ensure_images`, :func:`ensure_postgres_standin`
and :func:`clean_leftovers`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
BASE_IMAGE = "local/bookworm:base"
#: The label on every image the tier builds (pruned by :func:`clean_leftovers`).
LABEL = "odoo-ops-test"
#: Compose project names of the tier's tests start with this.
PROJECT_PREFIX = "odoo-ops-t"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: the build context of the stand-in for the official ``postgres`` image
STANDIN_DIR = Path(__file__).resolve().parent / "postgres_image"
#: the official image's tag the stand-in answers to (Debian 12 has PostgreSQL 15 only)
POSTGRES_STANDIN_TAG = "postgres:15"

Say = Callable[[str], None]


def _docker(*args: str, timeout: float = 1800, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {result.stderr.strip()[-800:]}")
    return result.stdout


def engine_unavailable() -> str | None:
    """Why the docker tier cannot run here (no client, daemon or compose v2 plugin), or None."""
    if os.environ.get("ODOO_OPS_DOCKER_UNAVAILABLE"):  # set by .ci/setup.d/50-docker.sh
        return os.environ["ODOO_OPS_DOCKER_UNAVAILABLE"]
    if shutil.which("docker") is None:
        return "no docker client (run ../shared/docker/setup-engine.sh)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker does not answer: {exc}"
    if info.returncode != 0:
        return "no Docker daemon answering (run ../shared/docker/setup-engine.sh)"
    if compose.returncode != 0:
        return "no docker compose v2 plugin (run ../shared/docker/setup-engine.sh)"
    return None


def has_image(name: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", name], capture_output=True, timeout=60
        ).returncode
        == 0
    )


def _contexts() -> dict[str, dict[str, Path]]:
    """name -> {file name in the build context: its source} of each image."""
    docker = SHARED / "docker"
    db = {p.name: p for p in sorted((docker / "db").iterdir()) if p.is_file()}
    odoo = {p.name: p for p in sorted((docker / "odoo").iterdir()) if p.is_file()}
    odoo["odoo-18.0-ce-trimmed.tar.zst"] = SHARED / "odoo" / "odoo-18.0-ce-trimmed.tar.zst"
    odoo["ca.crt"] = CA_BUNDLE
    postgres = {p.name: p for p in sorted(STANDIN_DIR.iterdir()) if p.is_file()}
    return {"db": db, "odoo": odoo, "postgres": postgres}


def _key(files: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        digest.update(name.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def image_names() -> dict[str, str]:
    """``{"db": ..., "odoo": ...}``: the tags of the images of the current inputs."""
    ctx = _contexts()
    return {
        "db": f"odoo-ops-test/db:15-{_key(ctx['db'])}",
        "odoo": f"odoo-ops-test/odoo:18-{_key(ctx['odoo'])}",
    }


def standin_name() -> str:
    """The keyed tag of the stand-in for ``postgres:15`` (its current inputs)."""
    return f"odoo-ops-test/postgres:15-{_key(_contexts()['postgres'])}"


def _archive(cache: Path, image: str) -> Path:
    return cache / "docker-images" / (image.replace("/", "_").replace(":", "__") + ".tar.zst")


def save_image(image: str, archive: Path) -> None:
    """``docker save IMAGE | zstd`` into ``archive`` (written whole or not at all)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, suffix=".part")
    os.close(fd)
    try:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        assert save.stdout is not None
        zstd = subprocess.run(
            ["zstd", "-q", "-T0", "-3", "-f", "-o", tmp], stdin=save.stdout, timeout=900
        )
        save.stdout.close()
        if save.wait(timeout=900) != 0 or zstd.returncode != 0:
            raise RuntimeError(f"docker save {image} | zstd failed")
        os.replace(tmp, archive)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_image(archive: Path) -> bool:
    """``zstd -d < archive | docker load``; False when it fails (then build)."""
    unzstd = subprocess.Popen(["zstd", "-q", "-d", "-c", str(archive)], stdout=subprocess.PIPE)
    assert unzstd.stdout is not None
    load = subprocess.run(
        ["docker", "load", "-q"], stdin=unzstd.stdout, capture_output=True, timeout=900
    )
    unzstd.stdout.close()
    return unzstd.wait(timeout=900) == 0 and load.returncode == 0


def _build(kind: str, image: str, files: dict[str, Path]) -> None:
    with tempfile.TemporaryDirectory(prefix=f"odoo-ops-{kind}-image-") as tmp:
        for name, source in files.items():
            shutil.copy(source, Path(tmp) / name)
        _docker("build", "-q", "--label", f"{LABEL}=1", "-t", image, tmp, timeout=1800)


def _ensure(kind: str, image: str, files: dict[str, Path], cache: Path | None,
            say: Say) -> None:  # fmt: skip
    """``image`` present in the engine: kept, else loaded from ``cache``, else built
    (and saved into ``cache``, replacing the archive of older inputs)."""
    if has_image(image):
        say(f"{image}: kept by the engine")
        return
    archive = _archive(cache, image) if cache else None
    t0 = time.monotonic()
    if archive is not None and archive.is_file() and load_image(archive) and has_image(image):
        say(f"{image}: loaded from {archive} in {time.monotonic() - t0:.0f}s")
        return
    _build(kind, image, files)
    say(f"{image}: built in {time.monotonic() - t0:.0f}s")
    if archive is not None:
        t1 = time.monotonic()
        save_image(image, archive)
        say(f"{image}: saved to {archive} in {time.monotonic() - t1:.0f}s")
        repo = image.rsplit(":", 1)[0].replace("/", "_") + "__"
        for old in archive.parent.glob(repo + "*.tar.zst"):
            if old != archive:
                old.unlink()  # an archive of older inputs


def _require_base() -> None:
    if not has_image(BASE_IMAGE):
        raise RuntimeError(f"image {BASE_IMAGE} missing: run ../shared/docker/setup-engine.sh")


def ensure_images(cache: Path | None = None, say: Say | None = None) -> dict[str, str]:
    """The tier's images, present in the engine: kept ones as they are, else
    loaded from ``cache``, else built (and saved into ``cache``)."""
    say = say or (lambda _m: None)
    _require_base()
    contexts = _contexts()
    names = image_names()
    for kind, image in names.items():
        _ensure(kind, image, contexts[kind], cache, say)
    return names


def ensure_postgres_standin(cache: Path | None = None, say: Say | None = None) -> str:
    """The stand-in for the official ``postgres:15`` image, present in the engine under
    its keyed tag (kept, loaded from ``cache`` or built, as :func:`ensure_images`) and
    tagged :data:`POSTGRES_STANDIN_TAG`; returns that tag.

    An image already tagged ``postgres:15`` that the tier did not build (no
    ``odoo-ops-test`` label: an official image pulled some day) is left alone:
    RuntimeError instead.
    """
    say = say or (lambda _m: None)
    _require_base()
    image = standin_name()
    _ensure("postgres", image, _contexts()["postgres"], cache, say)
    wanted = _docker("image", "inspect", "--format", "{{.Id}}", image).strip()
    if has_image(POSTGRES_STANDIN_TAG):
        current = _docker(
            "image", "inspect", "--format",
            f'{{{{.Id}}}} {{{{index .Config.Labels "{LABEL}"}}}}', POSTGRES_STANDIN_TAG,
        ).split()  # fmt: skip
        if current[0] == wanted:
            return POSTGRES_STANDIN_TAG
        if current[1:] != ["1"]:
            raise RuntimeError(
                f"{POSTGRES_STANDIN_TAG} is an image the test tier did not build: not replaced"
                f" by its stand-in {image}"
            )
    _docker("tag", image, POSTGRES_STANDIN_TAG)
    say(f"{POSTGRES_STANDIN_TAG}: tagged on {image}")
    return POSTGRES_STANDIN_TAG


def clean_leftovers(say: Say | None = None) -> list[str]:
    """Remove what a killed run of the tier left: the containers, networks and
    volumes of compose projects named ``odoo-ops-t…``, their image tags, and the
    dangling images built by the tier. Returns what was removed."""
    say = say or (lambda _m: None)
    removed: list[str] = []
    label = "com.docker.compose.project"
    rows = _docker("ps", "-a", "--format", "{{json .}}", "--filter", f"label={label}")
    projects: set[str] = set()
    for line in rows.splitlines():
        row = json.loads(line)
        labels = dict(
            item.split("=", 1) for item in str(row.get("Labels", "")).split(",") if "=" in item
        )
        if labels.get(label, "").startswith(PROJECT_PREFIX):
            projects.add(labels[label])
            _docker("rm", "-f", "-v", row["ID"], check=False)
            removed.append(f"container {row['Names']}")
    for kind in ("network", "volume"):
        listed = _docker(kind, "ls", "-q", "--filter", f"label={label}")
        for name in listed.split():
            inspect = _docker(kind, "inspect", "--format", "{{json .Labels}}", name, check=False)
            owner = (json.loads(inspect or "{}") or {}).get(label, "")
            if owner.startswith(PROJECT_PREFIX):
                _docker(kind, "rm", name, check=False)
                removed.append(f"{kind} {name}")
    tags = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    for tag in tags.split():
        if tag.startswith(PROJECT_PREFIX) and not tag.startswith("odoo-ops-test/"):
            _docker("image", "rm", tag, check=False)
            removed.append(f"image tag {tag}")
    _docker("image", "prune", "-f", "--filter", f"label={LABEL}", check=False)
    for item in removed:
        say(f"removed {item}")
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="directory of saved images (CI cache)")
    parser.add_argument("--clean", action="store_true", help="remove a killed run's leftovers")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"docker images: {message}", file=sys.stderr)

    try:
        if args.clean:
            clean_leftovers(say)
        names = ensure_images(args.cache, say)
        standin = ensure_postgres_standin(args.cache, say)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"docker images: {exc}", file=sys.stderr)
        return 1
    print(" ".join([*names.values(), standin_name(), standin]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
