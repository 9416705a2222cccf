"""Where Shuyu keeps its state, and the secrets it generates there.

Everything the platform writes — platform DB, hub DB, domain store, secrets — lives under
``$SHUYU_HOME`` (default: ``var/`` in the checkout). Only the functions here read the environment;
callers pass the resolved values on.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def shuyu_home() -> Path:
    """The state folder: ``$SHUYU_HOME`` or ``var/`` in the checkout."""
    return Path(os.environ.get("SHUYU_HOME") or CHECKOUT / "var").resolve()


def default_db_url(home: Path | None = None) -> str:
    """The platform DB URL: ``$SHUYU_DB_URL`` or SQLite under the home folder."""
    url = os.environ.get("SHUYU_DB_URL")
    if url:
        return url
    home = home or shuyu_home()
    return f"sqlite:///{home / 'platform.sqlite'}"


def configured_db_url(home: Path | None = None, config_file: Path | None = None) -> str:
    """The platform DB URL as the hub will use it: ``PlatformAuthenticator.db_url`` from
    ``jupyterhub_config.py`` (which itself defaults to :func:`default_db_url`)."""
    from traitlets.config.loader import PyFileConfigLoader

    config_file = config_file or CHECKOUT / "jupyterhub_config.py"
    if config_file.exists():
        config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
        url = config.PlatformAuthenticator.get("db_url")
        if url:
            return url
    return default_db_url(home)


def domain_store(home: Path | None = None) -> Path:
    """The domain store's local root: raw datasets, job outputs, export files. Never mounted
    into tenants. ``$SHUYU_DOMAIN_URL`` (``s3://bucket/prefix``, with ``$SHUYU_S3_ENDPOINT``,
    ``$SHUYU_S3_ACCESS_KEY``, ``$SHUYU_S3_SECRET_KEY``) puts the store on S3; the root is then
    the domain's working folder (:mod:`hub.store`), bound here to its backend for this process.

    Raises:
        hub.store.StoreError: the S3 store is misconfigured.
    """
    from hub import store

    root = (home or shuyu_home()) / "domain"
    store.configure(root, os.environ)
    return root


def domain_env() -> dict[str, str]:
    """The variables that hand the domain store's configuration to a domain service (never to
    a workspace); empty for the local default."""
    from hub.store import StoreConfig

    return StoreConfig.from_env(os.environ).environment()


def secret(name: str, home: Path | None = None, nbytes: int = 32) -> bytes:
    """Return a named secret under ``home/secrets``, creating it (mode 0600) on first use."""
    folder = (home or shuyu_home()) / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    value = secrets.token_bytes(nbytes)
    # O_EXCL: if another process created it first, use theirs.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(value.hex())
    return value
