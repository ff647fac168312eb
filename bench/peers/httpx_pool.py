"""The plain approach: asyncio + httpx, redirects followed by hand, one connection pool."""

import asyncio
import json
import sys
from pathlib import Path
from urllib.parse import urljoin

import httpx

urls_file, output, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])


async def main() -> None:
    urls = Path(urls_file).read_text().split()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    results = {}
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30) as client:

        async def resolve(url: str) -> None:
            async with semaphore:
                current = url
                for _ in range(10):
                    response = await client.get(current)
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        current = urljoin(current, location)
                        continue
                    break
                results[url] = current

        await asyncio.gather(*(resolve(u) for u in urls))
    Path(output).write_text(json.dumps(results))


asyncio.run(main())
