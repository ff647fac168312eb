"""A forward HTTP/1.1 proxy for the benchmark: absolute-form requests, keep-alive both ways.

Each client connection gets its own upstream connection per origin, kept open; requests
are relayed with their headers (``Proxy-*`` dropped) and the response is relayed by its
Content-Length.  Enough for the benchmark's server and clients, nothing more: no CONNECT,
no chunked bodies.  It prints ``ready <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from urllib.parse import urlsplit


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    upstreams: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    try:
        while (head := await _read_head(client_reader)) is not None:
            request_line, _, rest = head.partition(b"\r\n")
            method, target, version = request_line.decode("latin-1").split(" ")
            parts = urlsplit(target)
            origin = (parts.hostname or "", parts.port or 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = [
                line for line in rest.split(b"\r\n") if line and not line.lower().startswith(b"proxy-")
            ]
            body = await client_reader.readexactly(_length(head)) if _length(head) else b""
            if origin not in upstreams:
                upstreams[origin] = await asyncio.open_connection(*origin)
            reader, writer = upstreams[origin]
            writer.write(
                f"{method} {path} {version}\r\n".encode("latin-1")
                + b"\r\n".join(headers)
                + b"\r\n\r\n"
                + body
            )
            answer = await _read_head(reader)
            if answer is None:
                break
            client_writer.write(
                answer + (await reader.readexactly(_length(answer)) if _length(answer) else b"")
            )
            await client_writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        for _, writer in upstreams.values():
            writer.close()
        client_writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.3", port, backlog=1024, reuse_address=True)
    print(f"ready {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
