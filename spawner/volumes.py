"""Quota-bounded file systems for what sandboxes write: a preallocated ext4 image, loop-mounted.

A workspace's home, its tenant's shared folder and a job's output folder each live in a file
system of their own instead of on the disk that holds the platform DB and the audit trail:

- the image's size is its quota: writing past it fails with ENOSPC inside the sandbox, and the
  host disk is never filled (``--fsize`` alone bounds each file, not the total);
- the image is allocated in full when it is made, so writing inside it never changes the host's
  free-block count: a job cannot signal to a workspace through ``statvfs``, and a workspace sees
  only its own file system's counts where it writes;
- homes and shared folders persist in their images across server restarts; a job's image is
  removed once its outputs are copied out.

``mount -o loop`` attaches the loop device with autoclear, so unmounting also frees the device.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

MIN_BYTES = 8 << 20  # ext4 with a journal needs a few MiB of its own
HOME_OPTIONS = "nosuid,nodev"
JOB_OPTIONS = "nosuid,nodev,noexec"


@dataclass(frozen=True)
class Volume:
    """An image file mounted at ``mountpoint`` (``size`` bytes; root of the file system owned by
    ``uid``:``gid`` with ``mode``)."""

    image: Path
    mountpoint: Path
    size: int
    uid: int
    gid: int
    mode: int = 0o700
    options: str = HOME_OPTIONS


def is_mounted(path: Path) -> bool:
    """Whether a file system is mounted exactly at ``path`` (in the caller's mount namespace)."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(_unescape(line.split()[4]) == target for line in f)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")


def create(volume: Volume) -> None:
    """Make the image if it does not exist: allocated in full, then formatted."""
    if volume.size < MIN_BYTES:
        raise ValueError(f"a volume needs at least {MIN_BYTES} bytes, not {volume.size}")
    if volume.image.exists():
        return
    volume.image.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = volume.image.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.posix_fallocate(fd, 0, volume.size)
    finally:
        os.close(fd)
    try:
        _run(
            "mkfs.ext4", "-q", "-F", "-m", "0", "-E",
            f"root_owner={volume.uid}:{volume.gid},nodiscard", str(tmp),
        )  # fmt: skip
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(volume.image)


def mount(volume: Volume) -> None:
    """Make the image if needed and mount it at its mount point (nothing if already mounted).

    A folder that already holds files when its first image is made (a home from before quotas)
    is moved into the new file system, so nothing is hidden under the mount; if it does not fit,
    the image is dropped and the folder left as it was (the error says so)."""
    fresh = not volume.image.exists()
    create(volume)
    volume.mountpoint.mkdir(parents=True, exist_ok=True)
    with _lock:
        if is_mounted(volume.mountpoint):
            pass
        elif fresh and any(volume.mountpoint.iterdir()):
            _migrate(volume)
        else:
            _run("mount", "-o", f"loop,{volume.options}", str(volume.image), str(volume.mountpoint))
    os.chown(volume.mountpoint, volume.uid, volume.gid)
    os.chmod(volume.mountpoint, volume.mode)
    with contextlib.suppress(OSError):  # mkfs's empty lost+found: not the user's to see
        (volume.mountpoint / "lost+found").rmdir()


def _migrate(volume: Volume) -> None:
    """Move what the plain folder at the mount point holds into the freshly made image."""
    staging = volume.image.with_suffix(".migrate")
    staging.mkdir(mode=0o700, exist_ok=True)
    _run("mount", "-o", f"loop,{volume.options}", str(volume.image), str(staging))
    try:
        _run("cp", "-a", "--", f"{volume.mountpoint}/.", str(staging))
    except subprocess.CalledProcessError:
        _run("umount", str(staging))
        staging.rmdir()
        volume.image.unlink()
        raise
    _run("umount", str(staging))
    staging.rmdir()
    old = volume.mountpoint.with_name(volume.mountpoint.name + ".pre-quota")
    volume.mountpoint.rename(old)
    volume.mountpoint.mkdir()
    _run("mount", "-o", f"loop,{volume.options}", str(volume.image), str(volume.mountpoint))
    _run("rm", "-rf", "--one-file-system", "--", str(old))


def unmount(mountpoint: Path) -> None:
    """Unmount ``mountpoint`` if something is mounted there; the loop device goes with it.

    A mount still in use (a process that outlived its sandbox) is detached lazily: it disappears
    from the host now and is freed, with its loop device, when the last user lets go."""
    with _lock:
        if not is_mounted(mountpoint):
            return
        try:
            _run("umount", str(mountpoint))
        except subprocess.CalledProcessError:
            _run("umount", "--lazy", str(mountpoint))


def remove(volume: Volume) -> None:
    """Unmount and delete the image (a job's, once its outputs are copied out)."""
    unmount(volume.mountpoint)
    volume.image.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        volume.mountpoint.rmdir()


def mounted_under(root: Path) -> list[Path]:
    """Mount points under ``root`` (to remove what a crashed hub left mounted)."""
    base = os.path.realpath(root)
    with open("/proc/self/mountinfo") as f:
        points = [_unescape(line.split()[4]) for line in f]
    return [Path(p) for p in points if p.startswith(base + os.sep)]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)


_lock = threading.Lock()


def copy_out(source: Path, target: Path, max_bytes: int, uid: int, gid: int) -> list[str]:
    """Copy what a job left in ``source`` to ``target`` without following any link, holding at
    most ``max_bytes`` of file data; returns what was left behind (over the bound, or neither a
    file, folder, link nor FIFO). Links and FIFOs are copied as such: the output listing refuses
    them later, and root never opens them here."""
    left: list[str] = []
    budget = max_bytes
    for folder, dirs, files in os.walk(source, followlinks=False):
        rel = Path(folder).relative_to(source)
        for name in sorted(dirs + files):
            src, dst = Path(folder) / name, target / rel / name
            info = os.lstat(src)
            if stat.S_ISDIR(info.st_mode):
                dst.mkdir(mode=0o700, exist_ok=True)
            elif stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(src), dst)
                continue
            elif stat.S_ISFIFO(info.st_mode):
                os.mkfifo(dst, 0o600)
            elif stat.S_ISREG(info.st_mode) and info.st_size <= budget:
                budget -= _copy_file(src, dst, info.st_size)
            else:
                left.append(str(rel / name))
                continue
            os.chown(dst, uid, gid, follow_symlinks=False)
    return left


def _copy_file(src: Path, dst: Path, size: int) -> int:
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            copied = 0
            while copied < size:
                chunk = os.read(fd_in, min(1 << 20, size - copied))
                if not chunk:
                    break
                os.write(fd_out, chunk)
                copied += len(chunk)
            return copied
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
