"""A light asynchronous HTTP/1.1 load generator: keep-alive connections on raw asyncio streams, no
client library in the way (on a 2-core machine the client's CPU is taken from the server's).

``closed_loop`` keeps ``connections`` requests in flight for a while (throughput);
``Client.request`` sends one request on a pooled connection (the fleet benchmark's agents).
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    body: bytes


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        if body:
            lines.append("Content-Type: application/json")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return Response(status, data)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def count(self) -> int:
        return len(self.latencies)


async def closed_loop(
    host: str,
    port: int,
    seconds: float,
    connections: int,
    make: Callable[[int], tuple[str, str, bytes, dict]],
    requests: int | None = None,
) -> tuple[float, Tally]:
    """Keep ``connections`` requests in flight for ``seconds`` (or until ``requests`` were sent);
    ``make(n)`` gives the n-th request as ``(method, path, body, headers)``. Returns (requests per
    second, tally)."""
    tally = Tally()
    counter = iter(range(10**12 if requests is None else requests))
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        conn = Connection(host, port)
        while time.perf_counter() < stop_at:
            n = next(counter, None)
            if n is None:
                break
            method, path, body, headers = make(n)
            started = time.perf_counter()
            try:
                response = await conn.request(method, path, body, headers)
            except (OSError, asyncio.IncompleteReadError):
                tally.errors += 1
                conn.close()
                continue
            tally.add(response.status, time.perf_counter() - started)
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return tally.count / (time.perf_counter() - began), tally
