"""The domain store's interface (:class:`DomainStore`), its configuration and the local
backend; see :mod:`hub.store`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.i18n import Msg

# The environment variables that select and reach the store (read by hub.home only).
ENV_KEYS = (
    "SHUYU_DOMAIN_URL",
    "SHUYU_S3_ENDPOINT",
    "SHUYU_S3_ACCESS_KEY",
    "SHUYU_S3_SECRET_KEY",
    "SHUYU_S3_REGION",
)


class StoreError(ValueError):
    """A store that cannot be used (bad URL, missing endpoint or credentials); the message is
    Chinese and English and safe to show to a person."""

    def __init__(self, msg: Msg):
        super().__init__(str(msg))
        self.msg = msg


@dataclass(frozen=True)
class StoreConfig:
    """Where the domain store is: ``url`` empty (the local root) or ``s3://bucket/prefix``,
    with the S3 endpoint (``http://host:port``) and the platform's credentials."""

    url: str = ""
    endpoint: str = ""
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StoreConfig:
        return cls(
            url=environ.get("SHUYU_DOMAIN_URL", ""),
            endpoint=environ.get("SHUYU_S3_ENDPOINT", ""),
            access_key=environ.get("SHUYU_S3_ACCESS_KEY", ""),
            secret_key=environ.get("SHUYU_S3_SECRET_KEY", ""),
            region=environ.get("SHUYU_S3_REGION", "") or "us-east-1",
        )

    def environment(self) -> dict[str, str]:
        """The variables that hand this configuration to a domain service (never a workspace)."""
        if not self.url:
            return {}
        values = (self.url, self.endpoint, self.access_key, self.secret_key, self.region)
        return dict(zip(ENV_KEYS, values, strict=True))


@dataclass(frozen=True)
class Grant:
    """A production job's own credentials: read ``reads`` (keys), write under ``writes``."""

    job_id: int
    user: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    reads: tuple[str, ...]
    writes: str


class DomainStore(ABC):
    """One domain store, addressed by keys relative to its local ``root``."""

    remote: bool = False

    def __init__(self, root: Path):
        self.root = Path(root)

    def key(self, path: str | Path) -> str:
        """The key of ``path``: relative to the root when it lies under it (catalog records may
        hold absolute paths), else as given."""
        p = Path(path)
        if p.is_absolute():
            try:
                return p.relative_to(self.root).as_posix()
            except ValueError:
                return p.as_posix()
        return p.as_posix()

    def restore(self, path: str | Path) -> Path:
        """A file of the working folder the store holds (a frozen request's content): as it is
        when present, else fetched from the store (another machine, a lost disk)."""
        path = Path(path)
        if not self.remote or path.exists():
            return path
        return self.fetch(self.key(path))

    @abstractmethod
    def fetch(self, key: str | Path) -> Path:
        """A local path holding the current content of ``key`` (a file or a folder)."""

    @abstractmethod
    def put(self, key: str | Path, keep: bool = True) -> None:
        """Make ``root/key`` (a file or a folder) the store's content of ``key``; without
        ``keep`` the local working copy is removed once stored."""

    @abstractmethod
    def grant(self, job_id: int, reads: Sequence[str], writes: str) -> Grant | None:
        """Credentials for one production job (``None``: the store needs none)."""

    @abstractmethod
    def revoke(self, grant: Grant | None) -> None:
        """End a job's credentials."""

    @abstractmethod
    def stage(self, grant: Grant | None, key: str, folder: Path) -> Path:
        """Read ``key`` with the job's credentials into ``folder``; return its local path."""

    @abstractmethod
    def upload(self, grant: Grant | None, folder: Path, key: str) -> None:
        """Write every file under ``folder`` below ``key`` with the job's credentials."""


class LocalStore(DomainStore):
    """The embedded default: the root is the store; every method is the identity."""

    def fetch(self, key: str | Path) -> Path:
        return self.root / key

    def put(self, key: str | Path, keep: bool = True) -> None:
        return None

    def grant(self, job_id: int, reads: Sequence[str], writes: str) -> None:
        return None

    def revoke(self, grant: Grant | None) -> None:
        return None

    def stage(self, grant: Grant | None, key: str, folder: Path) -> Path:
        return self.root / key

    def upload(self, grant: Grant | None, folder: Path, key: str) -> None:
        return None
