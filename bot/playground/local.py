"""The playground answers this machine only: anyone can be anyone in it."""

import ipaddress
import re

from aiohttp import web

# The names a browser on this machine uses for it. Another Host is a page elsewhere whose name was
# pointed at 127.0.0.1 (DNS rebinding): its scripts would otherwise reach us as a loopback caller.
_LOCAL_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?", re.IGNORECASE)
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def loopback_only(handler):
    """Anyone can be anyone in the playground, so it answers this machine only, however it is served:
    a loopback caller, asking for a loopback name, with no proxy in between (behind a local reverse
    proxy everyone would look like a loopback caller)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            local = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            local = False
        local = local and bool(_LOCAL_HOST.fullmatch(request.headers.get("Host", "")))
        if not local or any(h in request.headers for h in _PROXY_HEADERS):
            raise web.HTTPForbidden(
                text="The playground answers only on this machine: open http://127.0.0.1 or http://localhost."
            )
        return await handler(request)

    return guarded
