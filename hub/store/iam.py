"""A production job's own identity in the object store, through the store's IAM API.

Each job gets a user of its own (``shuyu-job-<id>-<nonce>``) with one access key and one inline
policy (:func:`policy`): ``s3:GetObject`` on exactly its approved inputs (an object, or a dataset
folder's parts) and ``s3:PutObject`` under exactly its output prefix; nothing else (no listing,
no delete). The user is removed when the job ends. SeaweedFS serves this API on its S3 port
(with ``-s3.iam.readOnly=false``); so do MinIO and AWS.
"""

from __future__ import annotations

import contextlib
import json
import secrets

from hub.store.base import StoreConfig

POLICY = "shuyu-job"


def client(config: StoreConfig):
    """An IAM client signed with the platform's identity."""
    import botocore.session

    return botocore.session.get_session().create_client(
        "iam",
        endpoint_url=config.endpoint,
        region_name=config.region,
        aws_access_key_id=config.access_key,
        aws_secret_access_key=config.secret_key,
    )


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
    iam = client(config)
    user = f"shuyu-job-{job_id}-{secrets.token_hex(4)}"
    iam.create_user(UserName=user)
    try:
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName=POLICY, PolicyDocument=json.dumps(document))
    except Exception:
        remove(config, user)
        raise
    return user, key["AccessKeyId"], key["SecretAccessKey"]


def remove(config: StoreConfig, user: str) -> None:
    """Remove ``user`` with its keys and policy; what is already gone is fine."""
    from botocore.exceptions import ClientError

    iam = client(config)
    try:
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    except ClientError:
        keys = []
    for call, kwargs in (
        (iam.delete_user_policy, {"UserName": user, "PolicyName": POLICY}),
        *((iam.delete_access_key, {"UserName": user, "AccessKeyId": k["AccessKeyId"]}) for k in keys),
        (iam.delete_user, {"UserName": user}),
    ):  # fmt: skip
        with contextlib.suppress(ClientError):
            call(**kwargs)
