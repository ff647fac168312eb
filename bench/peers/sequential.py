"""The naive baseline: one link after the other with httpx, following redirects."""

import json
import sys

import httpx

urls_file, output = sys.argv[1], sys.argv[2]
urls = [line.strip() for line in open(urls_file) if line.strip()]
results = {}
with httpx.Client(follow_redirects=True, trust_env=False, timeout=30) as client:
    for url in urls:
        results[url] = str(client.get(url).url)
json.dump(results, open(output, "w"))
