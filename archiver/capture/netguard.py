"""The private-network guard: which addresses a capture may connect to."""

from __future__ import annotations

import ipaddress
import socket

from archiver.errors import NetworkGuardError

# Not covered by ipaddress.is_private but never a public web server.
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)


def is_public_address(address: str) -> bool:
    """True when ``address`` is a globally routable unicast address (not loopback, RFC 1918,
    link-local, cloud metadata, multicast, reserved, CGNAT or unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    return not any(ip in net for net in _EXTRA_BLOCKED if ip.version == net.version)


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` and return the addresses to connect to, refusing private ones.

    The check happens after DNS resolution and the caller connects to the returned address (not
    the name), so a name that re-resolves to a private address later cannot slip through.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkGuardError(f"cannot resolve {host!r}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if allow_private:  # intranets and the simulator, but never link-local (cloud metadata)
        link_local = [a for a in addresses if ipaddress.ip_address(a.split("%")[0]).is_link_local]
        if link_local:
            raise NetworkGuardError(
                f"refused to connect to {host} ({', '.join(link_local)}): a link-local or "
                "cloud metadata address is never captured"
            )
        return addresses
    refused = [a for a in addresses if not is_public_address(a)]
    if refused:
        raise NetworkGuardError(
            f"refused to connect to {host} ({', '.join(refused)}): a private, loopback, "
            "link-local or metadata address; captures reach only public addresses. Set "
            "ARCHIVER_ALLOW_PRIVATE_NETWORKS=true for a simulator or an intranet source"
        )
    return addresses
