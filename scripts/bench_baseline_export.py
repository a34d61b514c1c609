"""Baseline for bench_export.py: a bare httpx paging loop writing the same NDJSON.

Usage: python scripts/bench_baseline_export.py URL TOKEN CA_FILE OUT_DIR [json|orjson]
It pages every object with the same query vaultkeeper sends (all properties, the same
associations, live then archived) and writes one JSON line per record. No retries, no digests,
no manifest: the least work that still produces the files.
"""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path

import httpx

# Same objects and association targets as vaultkeeper's HubSpot connector picks for them.
OBJECTS = {"contacts": ["companies"], "companies": [], "deals": ["contacts", "companies"]}


def main() -> None:
    """Page through every object and write NDJSON."""
    url, token, ca, out = sys.argv[1:5]
    fast = len(sys.argv) > 5 and sys.argv[5] == "orjson"
    if fast:
        import orjson

        loads, dumps = orjson.loads, lambda r: orjson.dumps(r).decode()
    else:
        loads, dumps = json.loads, lambda r: json.dumps(r, ensure_ascii=False)
    Path(out).mkdir(parents=True, exist_ok=True)
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          verify=ssl.create_default_context(cafile=ca), trust_env=False,
                          timeout=60)
    for obj, assoc in OBJECTS.items():
        props = [p["name"] for p in client.get(f"/crm/v3/properties/{obj}").json()["results"]]
        with open(Path(out) / f"{obj}.ndjson", "w", encoding="utf-8") as handle:
            for archived in ("false", "true"):
                after = None
                while True:
                    params = {"limit": "100", "archived": archived, "properties": ",".join(props)}
                    if assoc:
                        params["associations"] = ",".join(assoc)
                    if after:
                        params["after"] = after
                    response = client.get(f"/crm/v3/objects/{obj}", params=params)
                    response.raise_for_status()
                    body = loads(response.content)
                    for record in body["results"]:
                        handle.write(dumps(record) + "\n")
                    after = (body.get("paging") or {}).get("next", {}).get("after")
                    if not after:
                        break


if __name__ == "__main__":
    main()
