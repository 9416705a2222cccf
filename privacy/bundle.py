"""The bundle ``shuyu party add`` prints: all a party needs to run its node, in one JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from privacy.pki import Credentials, KeyPair, party_identity

FORMAT = "shuyu-party-bundle/1"


class BundleError(ValueError):
    """A bundle file that cannot be read (bilingual message)."""


@dataclass(frozen=True)
class Bundle:
    party_id: str
    party_name: str
    tenant: str
    node_address: str  # HOST:PORT the party's node listens on (as registered)
    platform_address: str  # HOST:PORT of the platform's node
    ca_pem: str
    cert_pem: str
    key_pem: str

    @property
    def identity(self) -> str:
        return party_identity(self.party_id)

    def write(self, path: Path) -> None:
        path.touch(mode=0o600)
        path.write_text(
            json.dumps({"format": FORMAT, **asdict(self)}, ensure_ascii=False, indent=1)
        )

    @classmethod
    def read(cls, path: Path) -> Bundle:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise BundleError(f"无法读取参与方凭证包 / cannot read the party bundle: {path}") from e
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise BundleError("不是数域参与方凭证包 / not a Shuyu party bundle")
        try:
            return cls(**data)
        except TypeError as e:
            raise BundleError(
                "参与方凭证包字段不符 / the party bundle's fields do not match"
            ) from e

    def credentials(self, folder: Path) -> Credentials:
        return Credentials.write(folder, self.ca_pem, KeyPair(self.cert_pem, self.key_pem))
