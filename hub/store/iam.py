"""A production job's own identity in the object store, through the store's IAM API.

Each job gets a user of its own (``shuyu-job-<id>-<nonce>``) with one access key and one inline
policy: ``s3:GetObject`` on exactly its approved inputs (an object, or a dataset folder's parts)
and ``s3:PutObject`` under exactly its output prefix; nothing else (no listing, no delete). The
user is removed when the job ends. SeaweedFS serves this API on its S3 port (with
``-s3.iam.readOnly=false``); so do MinIO and AWS.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from typing import TYPE_CHECKING

from hub.store import Grant

if TYPE_CHECKING:
    from hub.store.s3 import S3Store

POLICY = "shuyu-job"
READY_SECONDS = 10  # the store applies a new identity within this


def client(store: S3Store):
    import botocore.session

    return botocore.session.get_session().create_client(
        "iam",
        endpoint_url=store.config.endpoint,
        region_name=store.config.region,
        aws_access_key_id=store.config.access_key,
        aws_secret_access_key=store.config.secret_key,
    )


def policy(store: S3Store, reads: list[str], writes: str) -> dict:
    """Read on each input (an object and, for a folder dataset, its parts); write below the
    output prefix."""
    read = []
    for key in reads:
        path = store.path(key)
        read += [f"arn:aws:s3:::{path}", f"arn:aws:s3:::{path}/*"]
    statements = [{"Effect": "Allow", "Action": ["s3:PutObject"],
                   "Resource": [f"arn:aws:s3:::{store.path(writes)}/*"]}]  # fmt: skip
    if read:
        statements.insert(0, {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": read})
    return {"Version": "2012-10-17", "Statement": statements}


def create(store: S3Store, job_id: int, reads: list[str], writes: str) -> Grant:
    """A new identity for ``job_id``, usable when this returns."""
    iam = client(store)
    user = f"shuyu-job-{job_id}-{secrets.token_hex(4)}"
    iam.create_user(UserName=user)
    try:
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName=POLICY,
                            PolicyDocument=json.dumps(policy(store, reads, writes)))  # fmt: skip
    except Exception:
        _delete(iam, user)
        raise
    grant = Grant(job_id, user, key["AccessKeyId"], key["SecretAccessKey"], tuple(reads), writes)
    _wait_ready(store, grant)
    return grant


def _wait_ready(store: S3Store, grant: Grant) -> None:
    """The S3 server learns a new identity from its filer a moment later: wait until the key
    is known (any answer but an unknown key)."""
    filesystem = store.job_filesystem(grant)
    probe = store.path(grant.reads[0]) if grant.reads else store.path(grant.writes)
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            filesystem.get_file_info(probe)
            return
        except OSError as e:
            text = str(e)
            if "InvalidAccessKeyId" not in text and "AccessKeyId" not in text:
                return  # known key, refused or absent: the identity is in place
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def remove(store: S3Store, grant: Grant) -> None:
    _delete(client(store), grant.user)


def _delete(iam, user: str) -> None:
    """Remove ``user`` with its keys and policy; what is already gone is fine."""
    from botocore.exceptions import ClientError

    for call, kwargs in (
        (iam.delete_user_policy, {"UserName": user, "PolicyName": POLICY}),
        *((iam.delete_access_key, {"UserName": user, "AccessKeyId": k["AccessKeyId"]})
          for k in _keys(iam, user)),
        (iam.delete_user, {"UserName": user}),
    ):  # fmt: skip
        with contextlib.suppress(ClientError):
            call(**kwargs)


def _keys(iam, user: str) -> list[dict]:
    from botocore.exceptions import ClientError

    try:
        return iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    except ClientError:
        return []
