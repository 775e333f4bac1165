"""Where requests may go: HTTPS anywhere, plain HTTP only to this machine, so a key never travels
unencrypted. Shared by the clients, the commands and the simulator."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class AddressError(ValueError):
    """An API address that is not an address, or would carry the key in clear text."""


def is_loopback(host: str) -> bool:
    """Whether a host name is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_base_url(url: str) -> str:
    """Return the API address without a trailing slash, or say why it cannot be used."""
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressError(f"{url!r} is not an http(s) address")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise AddressError(
            f"{url} would send the API key unencrypted; use https (http is for 127.0.0.1 only)"
        )
    return url
