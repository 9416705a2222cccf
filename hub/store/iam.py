"""A production job's own identity in the object store, through the store's IAM API.

Each job gets a user of its own (``shuyu-job-<id>-<nonce>``) with one access key and one inline
policy (:func:`policy`): ``s3:GetObject`` on exactly its approved inputs (an object, or a dataset
folder's parts) and ``s3:PutObject`` under exactly its output prefix; nothing else (no listing,
no delete). The user is removed when the job ends. SeaweedFS serves this API on its S3 port
(with ``-s3.iam.readOnly=false``); so do MinIO and AWS. Calls are the IAM query API
(form-encoded POST, XML answers) signed with the platform's identity (:mod:`hub.store.sigv4`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from hub.store.base import StoreConfig
from hub.store.sigv4 import sign

POLICY = "shuyu-job"
VERSION = "2010-05-08"
TIMEOUT = 30


class IAMError(RuntimeError):
    """The store refused an IAM call; ``code`` is its error code (``NoSuchEntity`` …)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def call(config: StoreConfig, action: str, **params: str) -> ET.Element:
    """One IAM action with the platform's identity; the XML answer.

    Raises:
        IAMError: the store refused it.
    """
    import requests

    body = urlencode({"Action": action, "Version": VERSION, **params}).encode()
    url = config.endpoint.rstrip("/") + "/"
    headers = sign("POST", url, access_key=config.access_key, secret_key=config.secret_key,
                   region=config.region, service="iam", body=body,
                   headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"})  # fmt: skip
    answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
    try:
        root = ET.fromstring(answer.content)
    except ET.ParseError:
        root = ET.Element("Unparsed")
    if answer.status_code >= 400:
        raise IAMError(_text(root, "Code") or str(answer.status_code), _text(root, "Message"))
    return root


def _text(root: ET.Element, name: str) -> str:
    """The text of the first element named ``name`` (any namespace)."""
    for element in root.iter():
        if element.tag.rpartition("}")[2] == name:
            return (element.text or "").strip()
    return ""


def _all(root: ET.Element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in root.iter() if e.tag.rpartition("}")[2] == name]


def policy(reads: list[str], writes: str) -> dict:
    """Read on each input object path (and, for a folder dataset, its parts); write below the
    output path."""
    read = [arn for path in reads for arn in (f"arn:aws:s3:::{path}", f"arn:aws:s3:::{path}/*")]
    statements = [{"Effect": "Allow", "Action": ["s3:PutObject"],
                   "Resource": [f"arn:aws:s3:::{writes}/*"]}]  # fmt: skip
    if read:
        statements.insert(0, {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": read})
    return {"Version": "2012-10-17", "Statement": statements}


def create(config: StoreConfig, job_id: int, document: dict) -> tuple[str, str, str]:
    """A new user for ``job_id`` with ``document`` as its policy: (user, access key, secret)."""
    user = f"shuyu-job-{job_id}-{secrets.token_hex(4)}"
    call(config, "CreateUser", UserName=user)
    try:
        key = call(config, "CreateAccessKey", UserName=user)
        call(config, "PutUserPolicy", UserName=user, PolicyName=POLICY,
             PolicyDocument=json.dumps(document))  # fmt: skip
    except Exception:
        remove(config, user)
        raise
    return user, _text(key, "AccessKeyId"), _text(key, "SecretAccessKey")


def users(config: StoreConfig) -> list[str]:
    """The names of every user of the store's IAM."""
    return _all(call(config, "ListUsers"), "UserName")


def remove(config: StoreConfig, user: str) -> None:
    """Remove ``user`` with its keys and policy; what is already gone is fine."""
    try:
        keys = _all(call(config, "ListAccessKeys", UserName=user), "AccessKeyId")
    except IAMError:
        keys = []
    steps = [("DeleteUserPolicy", {"PolicyName": POLICY})]
    steps += [("DeleteAccessKey", {"AccessKeyId": k}) for k in keys]
    steps += [("DeleteUser", {})]
    for action, params in steps:
        with contextlib.suppress(IAMError):  # already gone
            call(config, action, UserName=user, **params)
