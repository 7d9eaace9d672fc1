"""A probe agent that runs inside an ENI namespace, without network-admin capabilities.

It is how Cove proves enforcement with packets: the agent listens on TCP/UDP ports (echoing) and
makes connection attempts, and talks to its parent over stdin/stdout in JSON lines:

    {"op": "serve", "tcp": [22, 443], "udp": [53]}              -> {"ok": true}
    {"op": "probe", "timeout": 1.0, "probes": [{"id": "p1", "proto": "tcp", "dst": "10.0.1.5",
     "port": 443, "sport": 40001}, ...]}                           -> {"results": {"p1": "open"}}
    {"op": "exit"}

Results: `open` (TCP handshake done / UDP or ICMP echo answered), `timeout` (dropped somewhere),
`refused` (a TCP RST or ICMP port unreachable came back), `error: …`.
Standard library only: it starts in a fresh interpreter inside the namespace.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import threading
from typing import Any

__all__ = ["main"]


_IP_PKTINFO = 8  # Linux; not exported by Python 3.11's socket module


def _udp_echo(sock: socket.socket) -> None:
    """Echo datagrams from the address they were sent to: on "any IP" local routes (the internet
    and endpoint namespaces) an unconnected reply would otherwise leave from the link address."""
    while True:
        try:
            data, ancillary, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(12))
        except OSError:
            return
        cmsgs = [(level, kind, info) for level, kind, info in ancillary if kind == _IP_PKTINFO]
        try:
            sock.sendmsg([data], [(socket.IPPROTO_IP, _IP_PKTINFO, cmsgs[0][2])] if cmsgs else [], 0, peer)
        except OSError:
            continue


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        data = await asyncio.wait_for(reader.read(1024), 5)
        if data:
            writer.write(data)
            await writer.drain()
    except (TimeoutError, OSError):
        pass
    finally:
        writer.close()


async def _serve(tcp: list[int], udp: list[int]) -> list[Any]:
    servers: list[Any] = []
    for port in tcp:
        servers.append(await asyncio.start_server(_handle, "0.0.0.0", port, reuse_address=True))
    for port in udp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        sock.bind(("0.0.0.0", port))
        threading.Thread(target=_udp_echo, args=(sock,), daemon=True).start()
        servers.append(sock)
    return servers


def _bound(kind: int, sport: int | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        sock.bind(("0.0.0.0", sport))
    sock.setblocking(False)
    return sock


async def _tcp(dst: str, port: int, sport: int | None, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    sock = _bound(socket.SOCK_STREAM, sport)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (dst, port)), timeout)
        return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error: {exc.strerror or exc}"
    finally:
        sock.close()


async def _udp(dst: str, port: int, sport: int | None, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    sock = _bound(socket.SOCK_DGRAM, sport)
    try:
        sock.connect((dst, port))
        sock.send(b"cove-probe")
        await asyncio.wait_for(loop.sock_recv(sock, 1024), timeout)
        return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error: {exc.strerror or exc}"
    finally:
        sock.close()


async def _icmp(dst: str, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    try:
        # Echo request; the kernel sets the identifier and the checksum of ping sockets.
        sock.connect((dst, 0))
        sock.send(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"cove-probe")
        while True:
            reply = await asyncio.wait_for(loop.sock_recv(sock, 1024), timeout)
            if reply and reply[0] == 0:
                return "open"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return f"error: {exc.strerror or exc}"
    finally:
        sock.close()


async def _probe(spec: dict[str, Any], timeout: float) -> str:
    proto = spec["proto"]
    if proto == "tcp":
        return await _tcp(spec["dst"], int(spec["port"]), spec.get("sport"), timeout)
    if proto == "udp":
        return await _udp(spec["dst"], int(spec["port"]), spec.get("sport"), timeout)
    if proto == "icmp":
        return await _icmp(spec["dst"], timeout)
    return f"error: unknown protocol {proto}"


async def _batch(probes: list[dict[str, Any]], timeout: float) -> dict[str, str]:
    results = await asyncio.gather(*(_probe(p, timeout) for p in probes))
    return {str(p["id"]): r for p, r in zip(probes, results, strict=True)}


def main() -> None:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="agent-loop", daemon=True).start()
    keep: list[Any] = []
    for line in sys.stdin:
        request = json.loads(line)
        op = request.get("op")
        try:
            if op == "serve":
                future = asyncio.run_coroutine_threadsafe(
                    _serve(list(request.get("tcp", [])), list(request.get("udp", []))), loop
                )
                keep.extend(future.result(10))
                reply: dict[str, Any] = {"ok": True}
            elif op == "probe":
                timeout = float(request.get("timeout", 1.0))
                future_results = asyncio.run_coroutine_threadsafe(_batch(request["probes"], timeout), loop)
                reply = {"results": future_results.result(timeout * 4 + 30)}
            elif op == "exit":
                break
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
