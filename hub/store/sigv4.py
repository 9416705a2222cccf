"""AWS Signature Version 4, the signing every S3-compatible store and its IAM API accept.

A few lines of the published algorithm rather than an SDK: the AWS SDK for Python pins
``python-dateutil<3``, which the pinned science environment (``science.lock``) cannot take.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

UNRESERVED = "-_.~"


def canonical_path(path: str) -> str:
    """The URI path as it is sent and signed (each segment percent-encoded once)."""
    return quote(path or "/", safe="/" + UNRESERVED)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers (``Authorization`` included) that sign this request; ``url``'s path must
    already be in :func:`canonical_path` form."""
    parts = urlsplit(url)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    signed_headers = {k.lower(): " ".join(str(v).split()) for k, v in (headers or {}).items()}
    signed_headers.update(host=parts.netloc, **{"x-amz-date": stamp, "x-amz-content-sha256": payload})  # fmt: skip
    names = sorted(signed_headers)
    query = "&".join(
        f"{quote(k, safe=UNRESERVED)}={quote(v, safe=UNRESERVED)}"
        for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
    )
    canonical = "\n".join([
        method.upper(), parts.path or "/", query,
        "".join(f"{n}:{signed_headers[n]}\n" for n in names), ";".join(names), payload,
    ])  # fmt: skip
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed_headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed_headers
