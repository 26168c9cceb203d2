"""Signed, expiring links to one record file: the capability a record link carries (Teams).

A token names one record version, one format, the person it was issued to and when it expires, and is
signed with HMAC-SHA256 under a key only the bot's processes hold:

    <record version id>.<format>.<person id>.<expires, Unix seconds>.<signature, base64url>

Nothing in it is secret or identifying (ids and a time), and nothing is stored: any copy of the bot
that shares the key checks it, with no table and no migration. What it cannot do by itself is prove
who clicked it, so whoever serves it also checks, at each request, that the person it was issued to
may still see the record's discussion (dialogs.record_to_chair.may_see): a link stops working when it
expires or when its person no longer may see the record, whichever comes first.

The key is RECORD_LINK_SECRET when set; else it is derived from MICROSOFT_APP_PASSWORD (shared by
every copy of the bot and stable across restarts, as the Teams card signatures are); else (a
certificate, or local development) it is made at each start, so links from before a restart stop
working.

`Signer` is the token format itself (dot-separated fields, then the signature), shared with the other
kind of link the bot serves (bot.teams.report_links), which signs under a key `derive`d from this one
for its own use, so neither kind of token can pass as the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.records.formats import Format

log = logging.getLogger(__name__)

_CONTEXT = b"strategy-bot record links v1"


@dataclass(frozen=True)
class Grant:
    """What a link lets its holder fetch: one format of one record version, for one person, until."""

    version_id: int
    fmt: Format
    person_id: int
    expires_at: int  # Unix seconds

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


def derive(key: bytes, context: bytes) -> bytes:
    """A key for one use only (`context` names it), from a secret or another key."""
    return hmac.new(key, context, hashlib.sha256).digest()


def link_key(settings: Settings) -> bytes:
    """The key links are signed with (see the module docstring)."""
    for setting in (settings.record_link_secret, settings.microsoft_app_password):
        if setting is not None and setting.get_secret_value():
            return derive(setting.get_secret_value().encode(), _CONTEXT)
    log.warning(
        "record links: no RECORD_LINK_SECRET or MICROSOFT_APP_PASSWORD, so links are signed with a key "
        "made at this start; they stop working at a restart and in other copies of the bot"
    )
    return secrets.token_bytes(32)


class Signer:
    """Tokens of `<field>.<field>...<signature>`: HMAC-SHA256 of the fields as written, base64url
    without padding. The fields are the caller's to check; a signature only says the bot wrote them."""

    MAX_LENGTH = 200  # longer than any token the bot issues: nothing bigger is worth hashing

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, fields: Sequence[str]) -> str:
        if any("." in f for f in fields):
            raise ValueError("a token's fields cannot contain '.'")
        payload = ".".join(fields)
        return f"{payload}.{self._sign(payload)}"

    def read(self, token: str, count: int) -> list[str] | None:
        """The `count` fields of a token the bot signed; None if it is malformed or not ours."""
        parts = token.split(".")
        if len(parts) != count + 1 or len(token) > self.MAX_LENGTH:
            return None
        fields, signature = parts[:count], parts[count]
        if not hmac.compare_digest(signature.encode(), self._sign(".".join(fields)).encode()):
            return None
        return fields

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Links:
    def __init__(self, key: bytes) -> None:
        self._signer = Signer(key)

    def issue(self, grant: Grant) -> str:
        return self._signer.issue(
            [str(grant.version_id), grant.fmt.value, str(grant.person_id), str(grant.expires_at)]
        )

    def read(self, token: str) -> Grant | None:
        """The grant a token carries if the bot signed it (expired or not); None if it is malformed or
        its signature is not ours."""
        fields = self._signer.read(token, 4)
        if fields is None:
            return None
        version_id, fmt, person_id, expires_at = fields
        if not (version_id.isdigit() and person_id.isdigit() and expires_at.isdigit()):
            return None
        try:
            return Grant(int(version_id), Format(fmt), int(person_id), int(expires_at))
        except ValueError:
            return None
