"""Pages through one collection with OWSLib's OGC API - Features client, following `next` links by cursor.

Usage: owslib_pages.py BASE_URL COLLECTION PAGE_SIZE. Prints one JSON object: pages, features, unique ids,
numberMatched, and the collection ids OWSLib listed.
"""
import json
import sys
from urllib.parse import parse_qs, urlparse

from owslib.ogcapi.features import Features

base, collection, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
api = Features(base)
listed = [c["id"] for c in api.collections()["collections"]]
ids, pages, matched, cursor = [], 0, None, None
while True:
    kwargs = {"limit": size}
    if cursor:
        kwargs["cursor"] = cursor
    page = api.collection_items(collection, **kwargs)
    pages += 1
    matched = page.get("numberMatched", matched)
    ids.extend(f["id"] for f in page["features"])
    nxt = [l["href"] for l in page.get("links", []) if l.get("rel") == "next"]
    if not nxt:
        break
    cursor = parse_qs(urlparse(nxt[0]).query)["cursor"][0]
print(json.dumps({"pages": pages, "features": len(ids), "unique": len(set(ids)),
                  "numberMatched": matched, "collections": listed}))
