"""The domain store: raw datasets, frozen request contents, job outputs, models.

Two backends behind one small interface (:class:`DomainStore`): a local folder, the embedded
default, and an S3-compatible object store selected by ``SHUYU_DOMAIN_URL=s3://bucket/prefix``
(:mod:`hub.store.s3`). Code addresses the store as it always did, by its local root
(``store: Path``) and a key relative to it (``raw/medical_visits.parquet``); :func:`of` gives the
backend bound to that root. With the local backend every method is the identity (the same paths,
no copy); with S3 the root is only the domain's working folder, the object store is the source of
truth, and reads go through a Z0-only cache keyed by the objects' listing.

Production jobs get credentials of their own (:meth:`DomainStore.grant`): read on exactly their
approved inputs, write on exactly their output prefix; the domain-side steps that stage a job's
inputs and upload its outputs use those credentials, never the platform's. Workspaces get none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hub.i18n import Msg
from hub.store.base import (
    ENV_KEYS,
    DomainStore,
    Grant,
    LocalStore,
    StoreConfig,
    StoreError,
)

__all__ = ["ENV_KEYS", "DomainStore", "Grant", "LocalStore", "StoreConfig", "StoreError",
           "bind", "configure", "of", "open_store", "restored", "unbind"]  # fmt: skip

_BOUND: dict[Path, DomainStore] = {}


def open_store(root: Path, config: StoreConfig) -> DomainStore:
    """The backend ``config`` selects for the local ``root``.

    Raises:
        StoreError: an unknown scheme, or an S3 store without endpoint or credentials.
    """
    if not config.url:
        return LocalStore(root)
    if config.url.startswith("s3://"):
        from hub.store.s3 import S3Store

        return S3Store(root, config)
    raise StoreError(
        Msg(
            f"SHUYU_DOMAIN_URL 须为空（本地目录）或 s3://桶/前缀：{config.url}",
            f"SHUYU_DOMAIN_URL is empty (a local folder) or s3://bucket/prefix: {config.url}",
        )
    )


def bind(store: DomainStore) -> DomainStore:
    """Make ``store`` the backend of its root in this process (done once, at start)."""
    _BOUND[store.root.resolve()] = store
    return store


def unbind(root: Path) -> None:
    _BOUND.pop(Path(root).resolve(), None)


def of(root: Path | str) -> DomainStore:
    """The backend bound to ``root``; unbound, the local folder itself."""
    root = Path(root)
    return _BOUND.get(root.resolve()) or _BOUND.get(root) or LocalStore(root)


def configure(root: Path, environ: Mapping[str, str] = os.environ) -> DomainStore:
    """Bind the backend the environment selects to ``root``, unless one is bound already."""
    found = _BOUND.get(Path(root).resolve())
    return found or bind(open_store(root, StoreConfig.from_env(environ)))


def restored(root: Path, path: Path) -> Path | None:
    """``path`` of ``root``'s working folder as the store holds it (:meth:`DomainStore.restore`:
    fetched when this machine has no copy), or ``None`` where neither has it."""
    try:
        found = of(root).restore(path)
    except FileNotFoundError:
        return None
    return found if found.exists() else None
