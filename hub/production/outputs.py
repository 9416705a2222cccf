"""A finished job's outputs, read by root without trusting anything the job wrote.

The job owned its output folder, so any entry may be a symlink to a host file, a FIFO or a device
node: only regular files are listed and read, opened without following links, and a name is
resolved inside the folder only.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePosixPath

from hub.i18n import Msg
from hub.refusals import BadRequest, NotFound

MAX_FILES = 1000


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or len(name) > 300:
        raise BadRequest(Msg(f"无效的输出文件名：{name[:80]}", f"invalid output name: {name[:80]}"))
    return path


def _open(folder: Path, name: str) -> int:
    """An fd of ``folder/name``, walking each component without following a link."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        parts = _safe_name(name).parts
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            nxt = os.open(part, flags | os.O_NONBLOCK, dir_fd=fd)
            os.close(fd)
            fd = nxt
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        return fd
    except OSError:
        os.close(fd)
        raise NotFound(
            Msg(f"没有该输出文件：{name[:80]}", f"no such output: {name[:80]}")
        ) from None


def read(folder: Path, name: str, limit: int = 1 << 30) -> bytes:
    """The bytes of one regular output file (at most ``limit``)."""
    fd = _open(folder, name)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise BadRequest(Msg(f"输出文件过大：{name[:80]}", f"the output is too large: {name[:80]}"))
    return data


def listing(folder: Path) -> tuple[list[dict], list[str]]:
    """``([{name, bytes, sha256}], [skipped names])``: regular files only, links never followed."""
    found, skipped = [], []
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            rel = os.path.relpath(os.path.join(root, name), folder)
            info = os.lstat(os.path.join(root, name))
            if not stat.S_ISREG(info.st_mode) or len(found) >= MAX_FILES:
                skipped.append(rel)
                continue
            digest = hashlib.sha256()
            with os.fdopen(_open(folder, rel), "rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(block)
            found.append({"name": rel, "bytes": info.st_size, "sha256": digest.hexdigest()})
    return found, skipped


def resolve(run: dict | None, name: str) -> str:
    """The real name of the output its tenant knows as ``name`` (the released listing's name).

    Only names the tenant was shown resolve: a name the job wrote but the gate withheld is not
    found under itself, so asking for it cannot test what the job wrote."""
    run = run or {}
    for f in run.get("files") or run.get("outputs") or []:  # a run from before the gate: outputs
        if f.get("released_as", f["name"]) == name:
            return f["name"]
    raise NotFound(Msg(f"没有该输出文件：{name[:80]}", f"no such output: {name[:80]}"))
