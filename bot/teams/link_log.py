"""Signed links' tokens kept out of the access log (bot.teams.record_links, bot.teams.report_links):
each is a key to a file until it expires, and aiohttp logs every request's path."""

from __future__ import annotations

import logging
import re

ACCESS_LOG = "aiohttp.access"


class HideTokens(logging.Filter):
    """Replaces what follows `prefix` in a path (`/records/<token>`) with `(hidden)`, in the line, its
    arguments and the fields aiohttp adds for structured logging (such as `first_request_line`)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self._token = re.compile(re.escape(prefix) + r"[^\s\"?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and self.prefix in value:
                setattr(record, name, self.hide(value))
        if isinstance(record.args, tuple):
            record.args = tuple(self.hide(a) if isinstance(a, str) else a for a in record.args)
        return True

    def hide(self, text: str) -> str:
        return self._token.sub(f"{self.prefix}(hidden)", text)


def hide_tokens(prefix: str) -> None:
    """Filter the access log for `prefix`, once however many apps are set up in the process."""
    access = logging.getLogger(ACCESS_LOG)
    if not any(isinstance(f, HideTokens) and f.prefix == prefix for f in access.filters):
        access.addFilter(HideTokens(prefix))
