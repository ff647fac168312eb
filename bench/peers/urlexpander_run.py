"""Resolve the URLs in a file with urlexpander's bulk expand, as its README shows."""

import json
import sys
from pathlib import Path

import urlexpander

urls_file, output, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
urls = Path(urls_file).read_text().split()
resolved = urlexpander.expand(urls, chunksize=len(urls), n_workers=workers)
# expand() returns results in the order of its input list.
Path(output).write_text(json.dumps(dict(zip(urls, resolved, strict=True))))
