"""``s3://bucket/prefix``: any S3-compatible store (AWS, MinIO, B2, Wasabi, Scaleway, Spaces).

Talks to the store with boto3. Each file of a backup becomes the object
``prefix/NAME/<file>``, sent with checksums the store checks on arrival: one
``PutObject`` carrying the manifest's SHA-256 for a small file, a multipart
upload (parts of ``part_size_mib``, at least 5 MiB) for a large one, each part
with its CRC32 (the checksum boto3's own uploads send) while the file is
hashed here with SHA-256 in the same read and compared with the manifest
before the upload is completed; the store's composite CRC32 of the completed
object must then be the one of the parts sent. The copy becomes visible
only when the marker object ``prefix/NAME/.odoo-ops-complete`` is written,
last, after every object was checked that way. A re-run skips objects
already there whole and reuses the parts of an interrupted multipart upload
whose ETag (and CRC32) matches.

Options: ``endpoint_url``, ``region``, ``access_key_id``, ``secret_access_key``,
``session_token`` (write them as ``"${AWS_SECRET_ACCESS_KEY}"``), ``env_file``
(a .env file with ``AWS_ACCESS_KEY_ID`` …), ``part_size_mib`` (default 16),
``concurrency`` (parts in flight, default 10 as boto3's transfers),
``addressing_style`` (``path`` or ``virtual``). Without keys, boto3's usual
chain (environment, ~/.aws) is used.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from odoo_ops.backup.layout import MANIFEST, MAX_METADATA_BYTES, SUMS, BackupEntry, iso, utcnow
from odoo_ops.backup.remotes.base import (
    ProgressFn,
    PushResult,
    Remote,
    RemoteCopy,
    RemoteError,
    WantedFile,
    copy_from_manifest,
)
from odoo_ops.backup.remotes.filedir import _throttle
from odoo_ops.names import check_backup_name, check_relative, path_under

MARKER = ".odoo-ops-complete"
MIN_PART = 5 << 20
_AUTH_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
    "ExpiredToken", "InvalidClientTokenId", "UnrecognizedClientException", "403",
})  # fmt: skip


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _hex_b64(hexdigest: str) -> str:
    return _b64(bytes.fromhex(hexdigest))


def _crc32(data: bytes) -> bytes:
    """CRC32 (zlib's, the one S3 names ``CRC32``) as the 4 big-endian bytes S3 encodes."""
    return zlib.crc32(data).to_bytes(4, "big")


def _composite_crc32(part_crcs: list[bytes]) -> str:
    """The checksum S3 gives a multipart object: ``base64(crc32(part crcs))-N``."""
    return f"{_b64(_crc32(b''.join(part_crcs)))}-{len(part_crcs)}"


def _etag(block: bytes) -> str:
    """The ETag a store gives a part: its MD5 (only computed to reuse a part)."""
    return f'"{hashlib.md5(block, usedforsecurity=False).hexdigest()}"'


class S3Remote(Remote):
    kind = "s3"

    def __init__(
        self,
        name: str,
        display: str,
        *,
        bucket: str,
        prefix: str,
        options: dict[str, Any],
        env: dict[str, str],
    ) -> None:
        super().__init__(name, display)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.options = options
        self.env = env
        part = int(float(options.get("part_size_mib", 16)) * (1 << 20))
        self.part_size = max(part, MIN_PART)
        #: parts in flight at once (boto3's TransferConfig default, 10)
        self.concurrency = max(1, min(int(options.get("concurrency", 10)), 32))
        self._client: Any = None
        #: keys this push sent whose checksum the store confirmed in its answer
        self._checked: set[str] = set()
        #: unfinished multipart uploads under the copy being pushed (listed once)
        self._uploads: list[dict[str, Any]] = []

    # -- the client ------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:  # pragma: no cover - a runtime dependency
                raise RemoteError("boto3 is not installed", hint="pip install boto3") from None
            opts, env = self.options, self.env

            def pick(option: str, variable: str) -> str | None:
                value = opts.get(option) or env.get(variable)
                return str(value) if value else None

            config = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": str(opts.get("addressing_style", "path"))},
                connect_timeout=15,
                read_timeout=60,
                max_pool_connections=max(10, self.concurrency),
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=pick("endpoint_url", "AWS_ENDPOINT_URL"),
                region_name=pick("region", "AWS_DEFAULT_REGION") or "us-east-1",
                aws_access_key_id=pick("access_key_id", "AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=pick("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
                aws_session_token=pick("session_token", "AWS_SESSION_TOKEN"),
                config=config,
            )
        return self._client

    def _error(self, what: str, exc: Exception) -> RemoteError:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return RemoteError(
                f"remote {self.name}: no S3 credentials",
                hint="set access_key_id/secret_access_key (from ${...} variables) or env_file",
            )
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            message = str(exc.response.get("Error", {}).get("Message", "")) or code
            if code in _AUTH_CODES:
                return RemoteError(
                    f"remote {self.name}: the store refused the credentials ({code})",
                    hint="check access_key_id/secret_access_key of the remote (or its env_file)",
                )
            if code in ("NoSuchBucket", "404") and what == "check":
                return RemoteError(f"remote {self.name}: bucket {self.bucket!r} does not exist")
            return RemoteError(f"remote {self.name}: {what}: {code} {message}".rstrip())
        if isinstance(exc, BotoCoreError):
            return RemoteError(f"remote {self.name}: {what}: {exc}")
        return RemoteError(f"remote {self.name}: {what}: {exc}")

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(what, exc) from None

    def _key(self, name: str, rel: str = "") -> str:
        parts = [p for p in (self.prefix, check_backup_name(name), rel) if p]
        return "/".join(parts)

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(
                self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(f"cannot look at {key}", exc) from None

    # -- the interface -----------------------------------------------------------

    def check(self) -> str:
        self._call("check", "head_bucket", Bucket=self.bucket)
        return f"bucket {self.bucket} prefix {self.prefix or '/'}"

    def _markers(self) -> dict[str, dict[str, Any]]:
        """``{name: marker object}`` of complete copies."""
        base = f"{self.prefix}/" if self.prefix else ""
        out: dict[str, dict[str, Any]] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("cannot list", "list_objects_v2", **kwargs)
            for obj in page.get("Contents", []):
                rest = str(obj["Key"])[len(base) :]
                name, _, tail = rest.partition("/")
                if tail == MARKER:
                    try:
                        check_backup_name(name)
                    except Exception:
                        continue
                    out[name] = obj
            if not page.get("IsTruncated"):
                return out
            token = page.get("NextContinuationToken")

    def copies(self) -> list[RemoteCopy]:
        self.check()
        copies = [
            copy_from_manifest(n, self.read_file(n, MANIFEST)) for n in sorted(self._markers())
        ]
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        copies.sort(key=lambda c: (c.created_at or far, c.name))
        return copies

    def has(self, name: str) -> bool:
        return self._head(self._key(name, MARKER)) is not None

    def read_file(self, name: str, rel: str) -> bytes | None:
        from botocore.exceptions import ClientError

        key = self._key(name, check_relative(rel, "file"))
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                return None
            raise self._error(f"cannot read {key}", exc) from None
        if int(obj.get("ContentLength") or 0) > MAX_METADATA_BYTES:
            return None
        return bytes(obj["Body"].read(MAX_METADATA_BYTES))

    def push(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        *,
        bwlimit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> PushResult:
        start = time.monotonic()
        self.check()
        result = PushResult(self.name, entry.name, method="s3")
        result.bytes_total = sum(f.size for f in files)
        if self.has(entry.name):
            result.already_there = True
            return result
        self._checked.clear()
        composites: dict[str, str] = {}  # {rel: composite CRC32} of the multipart objects
        sent_at = time.monotonic()
        # one listing each (not one request per file): what an earlier run left
        there = self._listed(self._key(entry.name) + "/")
        self._uploads = self._unfinished(self._key(entry.name) + "/")
        for wanted in files:
            key = self._key(entry.name, wanted.rel)
            head = self._head(key) if key in there else None
            if head is not None and self._matches(head, wanted, None) is None:
                result.files_skipped += 1
                continue
            local = path_under(entry.path, wanted.rel)
            if wanted.size < self.part_size:
                self._put_small(key, local, wanted)
                result.bytes_sent += wanted.size
                if progress:
                    progress("upload", wanted.size, 0)
                _throttle(result.bytes_sent, sent_at, bwlimit)
            else:
                composites[wanted.rel] = self._put_multipart(
                    key, local, wanted, result, bwlimit, sent_at, progress
                )
            result.files_sent += 1
            if progress:
                progress("upload", 0, 1)
        problems = self._verify(
            entry.name, files, {rel: {"CRC32": c} for rel, c in composites.items()}
        )
        if problems:
            raise RemoteError(
                f"remote {self.name}: {entry.name} arrived damaged: {'; '.join(problems[:3])}",
                hint="run the push again",
            )
        result.verified = True
        marker = {
            "name": entry.name,
            "pushed_at": iso(utcnow()),
            "files": {f.rel: {"size": f.size, "sha256": f.sha256} for f in files},
            "composite_crc32": composites,
        }
        self._call(
            "cannot publish",
            "put_object",
            Bucket=self.bucket,
            Key=self._key(entry.name, MARKER),
            Body=json.dumps(marker, indent=2).encode(),
            ContentType="application/json",
        )
        result.seconds = round(time.monotonic() - start, 3)
        return result

    def _put_small(self, key: str, local: Path, wanted: WantedFile) -> None:
        data = local.read_bytes()
        if hashlib.sha256(data).hexdigest() != wanted.sha256:
            raise RemoteError(f"{wanted.rel}: the local file changed since it was verified")
        answer = self._call(
            f"upload of {wanted.rel} failed",
            "put_object",
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_hex_b64(wanted.sha256),
        )
        if answer.get("ChecksumSHA256") == _hex_b64(wanted.sha256):
            self._checked.add(key)  # the store checked it against the manifest's sha256

    def _put_multipart(
        self,
        key: str,
        local: Path,
        wanted: WantedFile,
        result: PushResult,
        bwlimit: int | None,
        sent_at: float,
        progress: ProgressFn | None,
    ) -> str:
        """Send ``local`` as a multipart upload, ``concurrency`` parts at a time.

        One read of the file: each block is hashed here into the file's SHA-256
        (compared with the manifest before the upload is completed, so what was
        sent is what the manifest names) and sent as a part carrying its CRC32,
        which the store checks on arrival (a part that arrives altered is
        refused) — the checksum boto3's own uploads send, a fraction of the CPU
        of a second SHA-256 of every part here and on the store. At most
        ``concurrency`` parts are in memory. Returns the composite checksum
        (``base64(crc32(part crcs))-N``) the store must report for the object.
        """
        upload_id, done = self._resumable(key)
        if upload_id is None:
            created = self._call(
                f"upload of {wanted.rel} failed",
                "create_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                ChecksumAlgorithm="CRC32",
            )
            upload_id = str(created["UploadId"])
        whole = hashlib.sha256()
        crcs: dict[int, bytes] = {}
        parts: dict[int, dict[str, Any]] = {}
        confirmed: set[int] = set()  # parts whose checksum the store echoed back
        slots = threading.BoundedSemaphore(self.concurrency)

        def send(number: int, block: bytes) -> tuple[int, int]:
            try:
                crc = _crc32(block)
                crcs[number] = crc
                kept = done.get(number)  # an earlier run's part: reused when it is this one
                if (
                    kept is not None
                    and kept[:2] == (_etag(block), len(block))
                    and (not kept[2] or kept[2] == _b64(crc))
                ):
                    parts[number] = {
                        "PartNumber": number, "ETag": kept[0], "ChecksumCRC32": _b64(crc),
                    }  # fmt: skip
                    return number, 0
                answer = self._call(
                    f"upload of {wanted.rel} (part {number}) failed",
                    "upload_part",
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=block,
                    ChecksumAlgorithm="CRC32",
                    ChecksumCRC32=_b64(crc),
                )
                stored = answer.get("ChecksumCRC32")
                if stored and stored != _b64(crc):
                    raise RemoteError(
                        f"remote {self.name}: {wanted.rel} (part {number}) arrived damaged"
                        " (the store's CRC32 differs from the part sent)",
                        hint="run the push again",
                    )
                if stored:
                    confirmed.add(number)
                parts[number] = {
                    "PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": _b64(crc),
                }  # fmt: skip
                return number, len(block)
            finally:
                slots.release()

        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="odoo-ops-s3")
        pending: set[Future[tuple[int, int]]] = set()

        def collect(futures: set[Future[tuple[int, int]]]) -> None:
            for future in futures:
                number, sent = future.result()  # a failed part raises its RemoteError here
                if not sent:
                    result.notes.append(f"{wanted.rel}: part {number} already there")
                    continue
                result.bytes_sent += sent
                if progress:
                    progress("upload", sent, 0)

        try:
            base = result.bytes_sent  # what this push sent before this file (for --bwlimit)
            read = 0
            with open(local, "rb") as fh:
                number = 0
                while True:
                    slots.acquire()  # at most `concurrency` parts read and not yet sent
                    block = fh.read(self.part_size)
                    if not block:
                        slots.release()
                        break
                    number += 1
                    read += len(block)
                    pending.add(pool.submit(send, number, block))
                    whole.update(block)
                    finished = {f for f in pending if f.done()}
                    pending -= finished
                    collect(finished)
                    if bwlimit:
                        _throttle(base + read, sent_at, bwlimit)
            finished, _ = wait(pending)
            pending = set()
            collect(finished)
        finally:
            # on an error or a signal: parts not started are dropped, the upload stays
            # resumable (list_multipart_uploads finds it on the next run)
            pool.shutdown(wait=True, cancel_futures=True)
        if whole.hexdigest() != wanted.sha256:
            raise RemoteError(f"{wanted.rel}: the local file changed since it was verified")
        answer = self._call(
            f"upload of {wanted.rel} failed",
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [parts[n] for n in sorted(parts)]},
        )
        composite = _composite_crc32([crcs[n] for n in sorted(crcs)])
        stored = str(answer.get("ChecksumCRC32") or "")
        if stored and stored.split("-")[0] != composite.split("-")[0]:
            raise RemoteError(
                f"remote {self.name}: {wanted.rel} arrived damaged"
                " (the store's CRC32 differs from the one of the parts sent)",
                hint="run the push again",
            )
        if stored or confirmed == set(parts):
            # the store's own checksums (of the object, or of every part sent now,
            # which it checked on arrival): no HEAD needed
            self._checked.add(key)
        return composite

    def _listed(self, prefix: str) -> set[str]:
        """The keys under ``prefix``."""
        keys: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("cannot list", "list_objects_v2", **kwargs)
            keys.update(str(o["Key"]) for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return keys
            token = page.get("NextContinuationToken")

    def _unfinished(self, prefix: str) -> list[dict[str, Any]]:
        """Unfinished multipart uploads under ``prefix`` (a killed push's), oldest first."""
        page = self._call(
            "cannot list uploads", "list_multipart_uploads", Bucket=self.bucket, Prefix=prefix
        )
        return list(page.get("Uploads", []))

    def _resumable(self, key: str) -> tuple[str | None, dict[int, tuple[str, int, str]]]:
        """The newest unfinished CRC32 multipart upload of ``key``, its parts
        ``{n: (etag, size, crc32 or "")}``. One started with another checksum (by
        an older odoo-ops, with SHA-256 parts) cannot take CRC32 parts: it is
        aborted (best effort) and not reused."""
        for upload in reversed([u for u in self._uploads if u.get("Key") == key]):
            upload_id = str(upload["UploadId"])
            listed = self._call(
                "cannot list parts", "list_parts", Bucket=self.bucket, Key=key, UploadId=upload_id
            )
            algorithm = str(
                upload.get("ChecksumAlgorithm") or listed.get("ChecksumAlgorithm") or ""
            )
            parts = listed.get("Parts", [])
            if algorithm.upper() not in ("", "CRC32") or any(
                p.get("ChecksumSHA256") for p in parts
            ):
                with contextlib.suppress(RemoteError):
                    self._call(
                        "cannot abort an older upload",
                        "abort_multipart_upload",
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                    )
                continue
            return upload_id, {
                int(p["PartNumber"]): (
                    str(p["ETag"]),
                    int(p["Size"]),
                    str(p.get("ChecksumCRC32") or ""),
                )
                for p in parts
            }
        return None, {}

    def _matches(
        self, head: dict[str, Any], wanted: WantedFile, composite: dict[str, str] | None
    ) -> str | None:
        """Why an object is not ``wanted`` (by the store's checksum), or None; '?' if unknown.

        ``composite``: the composite checksums (``{"CRC32": …}`` or ``{"SHA256": …}``)
        the marker recorded for a multipart object, whose parts were checked against
        the manifest's sha256 when it was pushed."""
        size = int(head.get("ContentLength") or 0)
        if size != wanted.size:
            return f"{wanted.rel}: {size} bytes, manifest says {wanted.size}"
        composite = composite or {}
        sha = head.get("ChecksumSHA256")
        if sha:
            sha = str(sha)
            if sha == _hex_b64(wanted.sha256):
                return None
            if composite.get("SHA256") and sha.split("-")[0] == composite["SHA256"].split("-")[0]:
                return None
            return f"{wanted.rel}: altered (the store's sha256 differs from the manifest)"
        crc = head.get("ChecksumCRC32")
        if crc and composite.get("CRC32"):
            if str(crc).split("-")[0] == composite["CRC32"].split("-")[0]:
                return None
            return f"{wanted.rel}: altered (the store's CRC32 differs from the one pushed)"
        return "?"

    def _verify(
        self, name: str, files: list[WantedFile], composites: dict[str, dict[str, str]]
    ) -> list[str]:
        problems = []
        for wanted in files:
            key = self._key(name, wanted.rel)
            if key in self._checked:
                continue  # sent by this push, the store answered with the expected sha256
            head = self._head(key)
            if head is None:
                problems.append(f"{wanted.rel}: missing")
                continue
            why = self._matches(head, wanted, composites.get(wanted.rel))
            if why == "?":
                why = self._download_check(key, wanted)
            if why:
                problems.append(why)
        return problems

    def _download_check(self, key: str, wanted: WantedFile) -> str | None:
        obj = self._call(f"cannot read {key}", "get_object", Bucket=self.bucket, Key=key)
        digest = hashlib.sha256()
        for block in obj["Body"].iter_chunks(1 << 20):
            digest.update(block)
        if digest.hexdigest() != wanted.sha256:
            return f"{wanted.rel}: altered (sha256 differs from the manifest)"
        return None

    def verify(self, name: str, files: list[WantedFile]) -> list[str]:
        self._checked.clear()  # a verify asks the store again, whatever a push saw
        marker = self.read_file(name, MARKER)
        composites: dict[str, dict[str, str]] = {}
        if marker:
            try:
                doc = json.loads(marker)
                # composite_sha256: copies pushed by odoo-ops before CRC32 parts
                for field, algorithm in (
                    ("composite_sha256", "SHA256"),
                    ("composite_crc32", "CRC32"),
                ):
                    for rel, value in (doc.get(field) or {}).items():
                        composites.setdefault(str(rel), {})[algorithm] = str(value)
            except (ValueError, AttributeError):
                composites = {}
        return self._verify(name, files, composites)

    def pull(self, name: str, dest: Path, *, progress: ProgressFn | None = None) -> None:
        files = self.wanted_from_remote(name)
        for rel in [f.rel for f in files] + [SUMS]:
            local = path_under(dest, check_relative(rel, "file"))
            local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            obj = self._call(
                f"cannot download {rel}", "get_object", Bucket=self.bucket, Key=self._key(name, rel)
            )
            with open(local, "wb") as fh:
                for block in obj["Body"].iter_chunks(1 << 20):
                    fh.write(block)
                    if progress:
                        progress("download", len(block), 0)
            if progress:
                progress("download", 0, 1)

    def delete(self, name: str) -> None:
        # the marker first: from then on the copy is not listed, whatever happens next
        self._call(
            "cannot delete", "delete_object", Bucket=self.bucket, Key=self._key(name, MARKER)
        )
        base = self._key(name) + "/"
        while True:
            page = self._call("cannot list", "list_objects_v2", Bucket=self.bucket, Prefix=base)
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if not keys:
                return
            self._call(
                "cannot delete",
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": keys, "Quiet": True},
            )
