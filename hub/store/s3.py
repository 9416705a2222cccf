"""The domain store on an S3-compatible object store (SeaweedFS in tests).

Data moves with pyarrow's S3 filesystem; a production job's own identity is made and removed
through the store's IAM API (:mod:`hub.store.iam`). Reads go through a cache under
``<root>/../domain-cache`` (Z0 only) keyed by the objects' listing (key, size, modification
time): an object changed or removed in the store is never served from an old copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from hub.i18n import Msg
from hub.store import iam
from hub.store.base import DomainStore, Grant, StoreConfig, StoreError

CHUNK = 8 << 20
READY_SECONDS = 10  # the store applies a new identity within this


def _filesystem(config: StoreConfig, access_key: str, secret_key: str):
    from pyarrow import fs

    endpoint = urlsplit(config.endpoint)
    return fs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=config.region,
        scheme=endpoint.scheme,
        endpoint_override=endpoint.netloc,
        allow_bucket_creation=False,
        allow_bucket_deletion=False,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=3),
    )


class S3Store(DomainStore):
    """``s3://bucket/prefix`` as the domain store; ``root`` is the domain's working folder."""

    remote = True

    def __init__(self, root: Path, config: StoreConfig):
        super().__init__(root)
        url = urlsplit(config.url)
        endpoint = urlsplit(config.endpoint)
        if not url.netloc or url.query or url.fragment:
            raise StoreError(Msg(f"存储地址无效：{config.url}", f"bad store URL: {config.url}"))
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise StoreError(Msg(
                "S3 存储须设置 SHUYU_S3_ENDPOINT（http(s)://主机:端口）",
                "an S3 store needs SHUYU_S3_ENDPOINT (http(s)://host:port)"))  # fmt: skip
        if not config.access_key or not config.secret_key:
            raise StoreError(Msg(
                "S3 存储须设置平台凭据 SHUYU_S3_ACCESS_KEY 与 SHUYU_S3_SECRET_KEY",
                "an S3 store needs the platform's SHUYU_S3_ACCESS_KEY and SHUYU_S3_SECRET_KEY"))  # fmt: skip
        self.config = config
        self.bucket = url.netloc
        self.prefix = url.path.strip("/")
        self.cache = self.root.parent / f"{self.root.name}-cache"
        self._fs = _filesystem(config, config.access_key, config.secret_key)

    def path(self, key: str | Path) -> str:
        """The object path (``bucket/prefix/key``) of ``key``."""
        key = self.key(key)
        parts = PurePosixPath(key).parts
        if not parts or ".." in parts or key.startswith("/"):
            raise ValueError(f"not a key inside the domain store: {key!r}")
        return "/".join(p for p in (self.bucket, self.prefix, key) if p)

    def listing(self, key: str | Path) -> list[tuple[str, int]]:
        """The objects of ``key`` as (path below ``key``, size): ``[("", size)]`` for one
        object, each part for a folder.

        Raises:
            FileNotFoundError: nothing is stored under ``key``.
        """
        return [(name, size) for name, size, _ in self._entries(key)]

    def _entries(self, key: str | Path) -> list[tuple[str, int, int]]:
        from pyarrow import fs

        base = self.path(key)
        info = self._fs.get_file_info(base)
        if info.type == fs.FileType.File:
            return [("", info.size, info.mtime_ns)]
        found = []
        if info.type == fs.FileType.Directory:
            selector = fs.FileSelector(base, recursive=True, allow_not_found=True)
            found = sorted((i.path[len(base) + 1 :], i.size, i.mtime_ns)
                           for i in self._fs.get_file_info(selector) if i.type == fs.FileType.File)  # fmt: skip
        if not found:
            raise FileNotFoundError(f"not in the domain store: {self.key(key)}")
        return found

    def fetch(self, key: str | Path) -> Path:
        entries = self._entries(key)
        digest = hashlib.sha256(json.dumps([self.path(key), entries]).encode()).hexdigest()
        name = PurePosixPath(self.key(key)).name
        target = self.cache / digest[:2] / digest / name
        if target.exists():
            return target
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        work = Path(tempfile.mkdtemp(dir=self.cache, prefix=".fetch-"))
        try:
            _download(self._fs, self.path(key), [e[0] for e in entries], work / name)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.rename(work / name, target)
            except OSError:
                if not target.exists():  # another process stored the same version first
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return target

    def put(self, key: str | Path, keep: bool = True) -> None:
        local = self.root / self.key(key)
        _upload(self._fs, local, self.path(key))
        if not keep:
            if local.is_dir():
                shutil.rmtree(local)
            else:
                local.unlink()

    def grant(self, job_id: int, reads: Sequence[str], writes: str) -> Grant:
        reads, writes = [self.key(k) for k in reads], self.key(writes)
        document = iam.policy([self.path(k) for k in reads], self.path(writes))
        user, access_key, secret_key = iam.create(self.config, job_id, document)
        grant = Grant(job_id, user, access_key, secret_key, tuple(reads), writes)
        try:
            self._wait_ready(grant)
        except Exception:
            iam.remove(self.config, user)
            raise
        return grant

    def _wait_ready(self, grant: Grant) -> None:
        """The S3 server learns a new identity from its filer a moment later: wait until the
        key is known (any answer but an unknown key)."""
        filesystem = self.job_filesystem(grant)
        probe = self.path(grant.reads[0] if grant.reads else grant.writes)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                filesystem.get_file_info(probe)
                return
            except OSError as e:
                if "AccessKeyId" not in str(e):
                    return  # a known key, refused or not found: the identity is in place
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def revoke(self, grant: Grant | None) -> None:
        if grant is not None:
            iam.remove(self.config, grant.user)

    def job_filesystem(self, grant: Grant):
        """pyarrow's S3 filesystem signed with the job's own credentials."""
        return _filesystem(self.config, grant.access_key, grant.secret_key)

    def stage(self, grant: Grant | None, key: str, folder: Path) -> Path:
        """The platform lists ``key`` (names and sizes only); every byte is read with the
        job's credentials, which the store refuses for anything but the job's inputs."""
        if grant is None:
            raise ValueError("a job's inputs are staged with its own credentials")
        names = [name for name, _ in self.listing(key)]
        target = folder / PurePosixPath(self.key(key)).name
        _download(self.job_filesystem(grant), self.path(key), names, target)
        return target

    def upload(self, grant: Grant | None, folder: Path, key: str) -> None:
        if grant is None:
            raise ValueError("a job's outputs are uploaded with its own credentials")
        _upload(self.job_filesystem(grant), folder, self.path(key))


def _download(filesystem, base: str, names: list[str], target: Path) -> None:
    """Copy the objects ``base/name`` (``name`` empty: ``base`` itself) to ``target``."""
    for name in names:
        local = target / name if name else target
        local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        source = f"{base}/{name}" if name else base
        with filesystem.open_input_stream(source) as src, open(local, "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)


def _upload(filesystem, local: Path, base: str) -> None:
    """Copy the file ``local``, or every file under the folder ``local``, to ``base``."""
    if local.is_dir():
        pairs = [(p, f"{base}/{p.relative_to(local).as_posix()}")
                 for p in sorted(local.rglob("*")) if p.is_file() and not p.is_symlink()]  # fmt: skip
    else:
        pairs = [(local, base)]
    for path, target in pairs:
        with open(path, "rb") as src, filesystem.open_output_stream(target, metadata={}) as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
