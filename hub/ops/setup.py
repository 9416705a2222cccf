"""Set up a Shuyu home folder: folders, secrets, the platform DB schema."""

from __future__ import annotations

from pathlib import Path

from hub import home
from hub.db.engine import Database

SECRETS = ("id_pepper", "jupyterhub_cookie_secret", "proxy_auth_token")


def init_home(path: Path, db: Database) -> None:
    """Create the folders and secrets under ``path``; ``db`` is migrated by its constructor."""
    for sub in ("domain/raw", "workspaces", "logs", "secrets"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    for name in SECRETS:
        home.secret(name, path)
    from hub.privacy import authority  # cryptography, only when a home is set up

    authority.platform_credentials(path)  # the privacy authority and the platform node's keys
