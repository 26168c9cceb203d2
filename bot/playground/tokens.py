"""Tokens that keep the playground's POSTs honest.

- A CSRF token per browser session: an HMAC of the session id, so only our own pages can post.
- A one-time token on every rendered button and form: a random nonce signed together with the
  session and what the control does (kind, name, value), so a tampered or foreign token is refused
  and a second submission of the same control (a double click) is recognised and does nothing.
The key is made fresh at each start: tokens from before a restart are simply out of date.
"""

import hashlib
import hmac
import secrets
from collections import OrderedDict


class Tokens:
    def __init__(self, key: bytes | None = None, remember: int = 100_000) -> None:
        self._key = key or secrets.token_bytes(32)
        self._used: OrderedDict[str, None] = OrderedDict()
        self._remember = remember  # how many used nonces to remember (oldest forgotten first)

    def _sign(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(18)

    def csrf(self, session: str) -> str:
        return self._sign("csrf", session)

    def csrf_ok(self, session: str, token: str) -> bool:
        return bool(session) and hmac.compare_digest(self.csrf(session), token or "")

    def mint(self, session: str, kind: str, name: str, value: str) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._sign('once', session, nonce, kind, name, value)}"

    def check(self, session: str, token: str, kind: str, name: str, value: str) -> str | None:
        """The token's nonce if it was issued to this session for exactly this action, else None."""
        nonce, _, signature = (token or "").partition(".")
        if not nonce or not signature:
            return None
        expected = self._sign("once", session, nonce, kind, name, value)
        return nonce if hmac.compare_digest(expected, signature) else None

    def forget(self, nonce: str) -> None:
        """Make a used nonce usable again: what it was used for was not saved (the database was away)."""
        self._used.pop(nonce, None)

    def use(self, nonce: str) -> bool:
        """True the first time a nonce is used; False for a second submission of the same control."""
        if nonce in self._used:
            return False
        self._used[nonce] = None
        if len(self._used) > self._remember:
            self._used.popitem(last=False)
        return True
