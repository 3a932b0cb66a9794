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


# Cloud instance-metadata services, refused even where private networks are allowed. Each is
# also matched through IPv4-mapped (::ffff:a.b.c.d), 6to4 and NAT64 (64:ff9b::/96) spellings.
_METADATA = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local: AWS, GCP, Azure, OpenStack, ECS
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, NAT64, Teredo)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.append(ip.teredo[1])
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_metadata_address(address: str) -> bool:
    """True for a cloud metadata (or other link-local) address, in any spelling."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [ip, *_embedded_ipv4(ip)]
    return any(c in net for c in candidates for net in _METADATA if c.version == net.version)


def is_public_address(address: str) -> bool:
    """True when ``address`` is a globally routable unicast address (not loopback, RFC 1918,
    link-local, cloud metadata, multicast, reserved, CGNAT or unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if is_metadata_address(address) or any(
        not is_public_address(str(v4)) for v4 in _embedded_ipv4(ip)
    ):
        return False
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
        link_local = [a for a in addresses if is_metadata_address(a)]
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
