"""Resolve the URLs in a file with urlexpander's bulk expand, as its README shows."""

import json
import sys

import urlexpander

urls_file, output, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
urls = [line.strip() for line in open(urls_file) if line.strip()]
resolved = urlexpander.expand(urls, chunksize=len(urls), n_workers=workers)
# expand() returns results in the order of its input list.
json.dump(dict(zip(urls, resolved)), open(output, "w"))
