"""The reference: how close any Python client can come to the floor on this machine.

asyncio's own streams and no HTTP library: a keep-alive connection pool per host,
the per-host limit held, the request written as one line of bytes, the answer read
by its Content-Length and its Location followed.  Nothing is checked, parsed
further, retried or stored, so it is not a tool anyone should use on the web; it
measures what the server, the loopback and the event loop cost on their own.
Run with the standard library only, so its start-up is the interpreter's.
"""

import asyncio
import json
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

urls_file, output, concurrency, per_host = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Host:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.slots = asyncio.Semaphore(per_host)
        self.idle: list[Connection] = []

    async def get(self, target: str) -> tuple[int, str | None]:
        async with self.slots:
            reader, writer = (
                self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
            )
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            self.idle.append((reader, writer))
            return int(head[0].split(" ")[1]), headers.get("location")


async def main() -> None:
    urls = Path(urls_file).read_text().split()
    hosts: dict[tuple[str, int], Host] = {}
    links = asyncio.Semaphore(concurrency)
    results = {}

    async def resolve(url: str) -> None:
        async with links:
            current = url
            for _ in range(10):
                parts = urlsplit(current)
                key = (parts.hostname or "", parts.port or 80)
                host = hosts.get(key) or hosts.setdefault(key, Host(*key))
                status, location = await host.get(parts.path or "/")
                if status in (301, 302, 303, 307, 308) and location:
                    current = urljoin(current, location)
                    continue
                break
            results[url] = current

    await asyncio.gather(*(resolve(u) for u in urls))
    for host in hosts.values():
        for _, writer in host.idle:
            writer.close()
    Path(output).write_text(json.dumps(results))


asyncio.run(main())
