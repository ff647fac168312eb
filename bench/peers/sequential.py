"""The naive baseline: one link after the other with httpx, following redirects."""

import json
import sys
from pathlib import Path

import httpx

urls_file, output = sys.argv[1], sys.argv[2]
urls = Path(urls_file).read_text().split()
results = {}
with httpx.Client(follow_redirects=True, trust_env=False, timeout=30) as client:
    for url in urls:
        results[url] = str(client.get(url).url)
Path(output).write_text(json.dumps(results))
