"""Validation of registered redirect and logout URIs (RFC 6749 §3.1.2, RFC 8252 §7)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from idplus.errors import ValidationError

LOOPBACK_HOSTS = frozenset({"localhost"})
# Schemes that could run code or read local data in the user agent are never redirect targets.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "about", "blob"})


def federation_callback_uri(issuer: str, provider_id: str) -> str:
    """Where an upstream provider sends the browser back (fixed: registered there in advance)."""
    return f"{issuer}/federation/{provider_id}/callback"


def federation_logged_out_uri(issuer: str, provider_id: str) -> str:
    """Where an upstream provider sends the browser after logging it out there."""
    return f"{issuer}/federation/{provider_id}/logged-out"


def is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_internal_host(host: str | None) -> bool:
    """Whether a URI's host (`urlsplit(uri).hostname`) names this machine or a network off the
    public internet, where a call made for someone else could reach what they cannot:
    `localhost` and `*.localhost` (RFC 6761 §6.3), and IP literals that are loopback, private,
    link-local, unique-local, multicast, reserved, unspecified or otherwise not global. Names
    are not resolved here: a name may point elsewhere by the time it is called."""
    if not host:
        return False
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip_literal(name)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address written as IPv6 goes where the IPv4 address does.
        address = address.ipv4_mapped or address.sixtofour or address
    return address.is_multicast or not address.is_global


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # The resolver outbound calls use (getaddrinfo) also reads "127.1", "0x7f.1" and
        # "2130706433" as IPv4 addresses; inet_aton reads them the same way.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def validate_registered_uri(uri: str, *, what: str, allow_private_use: bool) -> str:
    """Raise ValidationError unless `uri` may be registered as a redirect target."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise ValidationError(f"{what} {uri!r} is not a valid URI") from exc
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValidationError(f"{what} {uri!r} must be an absolute URI")
    if "#" in uri:
        raise ValidationError(f"{what} {uri!r} must not contain a fragment")
    if "\\" in uri or "@" in parts.netloc or not uri.isprintable() or " " in uri:
        # Parsers disagree on these (browsers treat a backslash as "/"), so none is allowed.
        raise ValidationError(f"{what} {uri!r} must not contain userinfo, '\\' or spaces")
    if scheme in FORBIDDEN_SCHEMES:
        raise ValidationError(f"{what} {uri!r} uses the forbidden scheme {scheme!r}")
    if scheme == "https":
        if not parts.hostname:
            raise ValidationError(f"{what} {uri!r} has no host")
        return uri
    if scheme == "http":
        if is_loopback_host(parts.hostname):
            return uri
        raise ValidationError(f"{what} {uri!r} must use https (plain http only for loopback hosts)")
    if not allow_private_use:
        raise ValidationError(
            f"{what} {uri!r}: private-use URI schemes are only for MobileApp clients"
        )
    if "." not in scheme:
        raise ValidationError(
            f"{what} {uri!r}: a private-use scheme must be a reversed domain name such as "
            "com.example.app (RFC 8252 §7.1)"
        )
    return uri
