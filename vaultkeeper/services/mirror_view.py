"""A read-only web view of the SQLite mirror (Datasette), so staff can look people up while the
CRM is gone.

The file is opened immutable (SQLite ``immutable=1``: read-only, never locked or written),
Datasette only runs read-only SQL, and the database download is switched off. The server binds
to 127.0.0.1 unless told otherwise; it has no login, so binding wider is the caller's choice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from vaultkeeper.errors import UsageError

MIRROR_FILE = Path("mirror") / "mirror.db"


def mirror_path(state_dir: Path) -> Path:
    """Where the drill keeps the mirror: ``<state_dir>/mirror/mirror.db``."""
    return state_dir / MIRROR_FILE


def serve_mirror(path: Path, *, host: str = "127.0.0.1", port: int = 8001,
                 title: str = "CRM mirror (read-only)") -> None:
    """Serve ``path`` until interrupted (blocks)."""
    if not path.is_file():
        raise UsageError(f"no mirror at {path}",
                         "run `vaultkeeper drill` first (it builds the mirror), or pass --db")
    import uvicorn
    from datasette.app import Datasette

    ds = Datasette(immutables=[str(path)], cors=False,
                   metadata={"title": title,
                             "description": "A read-only copy of the CRM, restored from a "
                                            "backup by vaultkeeper. Changes made elsewhere are "
                                            "not reflected here."},
                   settings={"allow_download": False, "default_page_size": 50,
                             "sql_time_limit_ms": 3000})
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
