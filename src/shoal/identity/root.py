"""The account's root credentials, as MinIO keeps its root user's.

``shoal serve`` takes them from ``SHOAL_ROOT_ACCESS_KEY_ID`` and ``SHOAL_ROOT_SECRET_ACCESS_KEY``
when both are set (a throwaway run that wants LocalStack's fixed keys sets ``test``/``test``).
Otherwise they are made on the first start, with :mod:`secrets`, and kept in
``<data>/credentials`` (0600, owned by the server's user) in the AWS CLI's shared-credentials
format, as profile ``shoal``: ``AWS_SHARED_CREDENTIALS_FILE=<data>/credentials
AWS_PROFILE=shoal`` points any AWS tool at them, and ``shoal credentials`` prints them.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shoal.identity.credentials import Credential
from shoal.policy.engine import Principal

PROFILE = "shoal"
ENV_KEY = "SHOAL_ROOT_ACCESS_KEY_ID"
ENV_SECRET = "SHOAL_ROOT_SECRET_ACCESS_KEY"
_KEY_CHARS = string.ascii_uppercase + "234567"
PRESIGNED_SECONDS = 600  # a code location's life, as Lambda's presigned S3 URLs have


def credentials_path(data_dir: Path) -> Path:
    return data_dir / "credentials"


@dataclass(frozen=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str
    generated: bool = False  # made by this start (the server says where they are, once)

    @classmethod
    def load(cls, data_dir: Path) -> RootCredentials:
        key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
        if key and secret:
            return cls(key, secret)
        if key or secret:
            raise ValueError(f"set both {ENV_KEY} and {ENV_SECRET}, or neither")
        path = credentials_path(data_dir)
        found = read(path)
        if found is not None:
            return found
        made = cls(
            "AKIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16)),
            secrets.token_urlsafe(30)[:40],
            generated=True,
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f"[{PROFILE}]\naws_access_key_id = {made.access_key_id}\n"
                f"aws_secret_access_key = {made.secret_access_key}\n"
            )
            f.flush()
            os.fsync(f.fileno())
        return made

    def source(self, account: str) -> RootSource:
        return RootSource(self, account)

    def presign(self, url: str, region: str, expires: int = PRESIGNED_SECONDS) -> str:
        """``url`` (one of Shoal's own endpoints) presigned for ``GET`` by the root user, for
        ``expires`` seconds: what GetFunction's ``Code.Location`` and GetLayerVersion's
        ``Content.Location`` are, as AWS gives presigned S3 URLs. The signature covers the
        path, so it opens that one package and nothing else."""
        request = AWSRequest("GET", url)
        credentials = Credentials(self.access_key_id, self.secret_access_key)
        SigV4QueryAuth(credentials, "shoal", region, expires=expires).add_auth(request)
        return str(request.url)


def read(path: Path) -> RootCredentials | None:
    """The root credentials kept at ``path``, or None when there are none (or unreadable)."""
    parser = configparser.ConfigParser()
    try:
        with open(path) as f:
            parser.read_file(f)
        section = parser[PROFILE]
        return RootCredentials(section["aws_access_key_id"], section["aws_secret_access_key"])
    except (OSError, KeyError, configparser.Error):
        return None


class RootSource:
    """The root user's one access key, as a :class:`CredentialSource`."""

    def __init__(self, root: RootCredentials, account: str) -> None:
        self._credential = Credential(
            root.access_key_id,
            root.secret_access_key,
            Principal(arn=f"arn:aws:iam::{account}:root", account=account, user_id=account),
            root=True,
        )

    def credential(self, access_key_id: str, session_token: str | None) -> Credential | None:
        return self._credential if access_key_id == self._credential.access_key_id else None
