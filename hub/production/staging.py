"""A production job's inputs and outputs through the domain store, with the job's own keys.

On the local store this is the identity: the raw files are read where they are and nothing is
uploaded. On S3 the job gets an identity of its own (:meth:`hub.store.DomainStore.grant`: read
its approved inputs, write its output prefix); the domain side stages the inputs with it before
the sandbox starts (the sandbox has no network) and uploads the outputs with it afterwards; the
identity and the staged copies are removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.store import Grant, of


def output_key(job_id: int) -> str:
    return f"jobs/{job_id}/output"


@dataclass(frozen=True)
class JobIO:
    inputs: dict[str, tuple[Path, list[str]]]  # dataset → (local path, approved columns)
    finish: Callable[[Path], None]  # uploads the job folder's outputs and logs, ends the identity


@contextlib.contextmanager
def job_io(store: Path, job_id: int, inputs: dict[str, tuple[Path, list[str]]]) -> Iterator[JobIO]:
    """The job's inputs as local paths, read with its own credentials, and its ``finish``
    (outputs uploaded, then the identity removed: before the job is marked done)."""
    domain = of(store)
    keys = {name: domain.key(path) for name, (path, _) in inputs.items()}
    grant = domain.grant(job_id, sorted(set(keys.values())), output_key(job_id))
    staging = store / "staging" / str(job_id)
    held = [grant]  # the identity until it is removed

    def finish(folder: Path) -> None:
        try:
            _upload(store, job_id, grant, folder)
        finally:
            domain.revoke(held.pop() if held else None)

    try:
        staged = {
            name: (domain.stage(grant, keys[name], staging / name), columns)
            for name, (_, columns) in inputs.items()
        }
        yield JobIO(staged, finish)
    finally:
        domain.revoke(held.pop() if held else None)
        if domain.remote:
            shutil.rmtree(staging, ignore_errors=True)


def _upload(store: Path, job_id: int, grant: Grant | None, folder: Path) -> None:
    domain = of(store)
    if not domain.remote:
        return
    if (folder / "output").is_dir() and any((folder / "output").iterdir()):
        domain.upload(grant, folder / "output", output_key(job_id))
    for name in ("released.log", "log.txt"):  # the domain's own records of the run
        if (folder / name).is_file():
            domain.put(f"jobs/{job_id}/{name}")
