"""Credentials: argon2id password hashes, TOTP second factor, keyed hashes of ID numbers."""

from __future__ import annotations

import hashlib
import hmac
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash of a random password, verified against when the user does not exist, so an unknown
# username costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("shuyu-timing-equaliser")
ISSUER = "Shuyu 数域"
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password`` against an argon2 hash; ``stored=None`` burns the same time and fails."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def totp_step(
    secret: str, code: str, *, last_step: int | None, at: float | None = None
) -> int | None:
    """Return the time step a TOTP ``code`` matches (±1 step of drift), or ``None``.

    A code for a step at or before ``last_step`` is refused, so a code cannot be replayed.
    """
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def id_number_hash(pepper: bytes, id_number: str) -> str:
    """Keyed hash of a resident ID number: equal IDs match, the number itself is not stored."""
    return hmac.new(pepper, id_number.encode(), hashlib.sha256).hexdigest()
