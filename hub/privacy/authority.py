"""The privacy network's authority and the platform node's credentials, under
``$SHUYU_HOME/privacy``: created at ``shuyu init`` (or first use), key files 0600.

The authority signs the platform node's certificate (``shuyu:platform``) and one per party at
``shuyu party add``; a node accepts only peers whose certificate it signed, with the identity it
expects (:mod:`privacy.pki`).
"""

from __future__ import annotations

import os
from pathlib import Path

from privacy import pki

FOLDER = "privacy"


def folder(home: Path) -> Path:
    path = home / FOLDER
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_once(path: Path, text: str) -> bool:
    """Write ``text`` to a new file (0600); ``False`` if another process made it first."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def authority(home: Path) -> pki.KeyPair:
    """The platform's privacy authority, created on first use."""
    base = folder(home)
    cert, key = base / "ca.pem", base / "ca.key"
    if not key.exists():
        made = pki.new_authority()
        if _write_once(key, made.key_pem):
            cert.unlink(missing_ok=True)
            _write_once(cert, made.cert_pem)
    return pki.KeyPair(cert.read_text(), key.read_text())


def platform_credentials(home: Path) -> pki.Credentials:
    """The platform node's credentials (``--creds DIR``), issued by :func:`authority` on first
    use and issued again should the authority have changed."""
    ca = authority(home)
    creds = folder(home) / "platform"
    found = pki.Credentials(creds / "ca.pem", creds / "node.pem", creds / "node.key")
    if found.ca.exists() and found.ca.read_text() == ca.cert_pem and found.key.exists():
        return found
    own = pki.issue(ca, pki.PLATFORM, "Shuyu platform node")
    return pki.Credentials.write(creds, ca.cert_pem, own)
