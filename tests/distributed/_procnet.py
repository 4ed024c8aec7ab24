"""What actually listens: TCP sockets in LISTEN state per process, read from /proc (Linux)."""
from __future__ import annotations

import ipaddress
import os
import struct
from pathlib import Path

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _decode(hexaddr: str) -> tuple[Address, int]:
    """``0100007F:1F90`` (as in /proc/net/tcp*, 32-bit words in host order) -> (address, port)."""
    ip, port = hexaddr.split(":")
    raw = bytes.fromhex(ip)
    words = b"".join(struct.pack("<I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, len(raw), 4))
    addr = ipaddress.IPv4Address(words) if len(raw) == 4 else ipaddress.IPv6Address(words)
    return addr, int(port, 16)


def listening(pids: set[int]) -> list[tuple[int, str, Address, int]]:
    """(pid, command name, address, port) of every listening TCP socket held by one of ``pids``."""
    inodes: dict[str, tuple[Address, int]] = {}
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for fields in (line.split() for line in lines):
            if fields[3] == "0A":  # TCP_LISTEN
                inodes[fields[9]] = _decode(fields[1])
    found = []
    for pid in pids:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                found.append((pid, comm, *inodes[link[8:-1]]))
    return found


def is_loopback(addr: Address) -> bool:
    """127.0.0.0/8, ::1, and IPv4-mapped loopback (``::ffff:127.0.0.1``, a dual-stack socket)."""
    mapped = getattr(addr, "ipv4_mapped", None)
    return addr.is_loopback or bool(mapped and mapped.is_loopback)


def live_pids(pgid: int | None = None) -> dict[int, str]:
    """pid -> command name of every non-zombie process (in process group ``pgid`` if given)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        if fields[0] != "Z" and (pgid is None or int(fields[2]) == pgid):
            out[int(stat.parent.name)] = head.split("(", 1)[1]
    return out
