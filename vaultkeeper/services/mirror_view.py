"""A read-only web view of the SQLite mirror (Datasette), so staff can look people up while the
CRM is gone.

It opens on a people search and a person page (their organisation, memberships, donations,
notes) built from the canonical model (``db/staff.py``), with the snapshot's date on every page;
the raw mirror stays one click away. Both files are served immutable (SQLite ``immutable=1``:
read-only, never locked or written), Datasette runs only read-only SQL, downloads are off, and
the server binds to 127.0.0.1 unless told otherwise; it has no login, so binding wider is the
caller's choice. The staff view is written into a private folder removed when the server stops.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Collection, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from vaultkeeper.canonical import ENTITIES, CanonicalMapping
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.db.staff import SNAPSHOT_TABLE, StaffView, build_staff_view
from vaultkeeper.errors import UsageError
from vaultkeeper.privatefs import private_workdir

MIRROR_FILE = Path("mirror") / "mirror.db"
LABELS = {"person": "People", "organisation": "Organisations", "membership": "Memberships",
          "donation": "Donations", "activity": "Notes and activities"}
LABEL_OVERRIDES = {"id": "Legacy id", "organisation_id": "Organisation", "person_id": "Person",
                   "donation_id": "Donation", "email": "E-mail", "email_opt_out": "E-mail opt-out",
                   "birth_date": "Date of birth", "member_number": "Member number",
                   "created_at": "Created", "updated_at": "Last modified"}
SECTIONS = (("membership", "Memberships"), ("donation", "Donations"),
            ("activity", "Notes and activities"))


def mirror_path(state_dir: Path) -> Path:
    """Where the drill keeps the mirror: ``<state_dir>/mirror/mirror.db``."""
    return state_dir / MIRROR_FILE


def mapping_for(path: Path, mappings: Mapping[str, CanonicalMapping]) -> CanonicalMapping | None:
    """The canonical mapping of the connector that made the mirror's export, if one exists."""
    return mappings.get(mirrordb.connector_of(path) or "")


def banner(snapshot: Mapping[str, str]) -> str:
    """The line every page shows: which snapshot this is and how old."""
    def when(key: str) -> str:
        try:
            return datetime.fromisoformat(snapshot[key]).strftime("%-d %B %Y %H:%M %Z").strip()
        except (KeyError, ValueError):
            return "an unknown date"
    short = str(snapshot.get("snapshot_id", ""))[:8] or "?"
    where = f" at {snapshot['location']}" if snapshot.get("location") else ""
    return (f"Read-only copy of the CRM: backup {short}{where} taken {when('snapshot_time')}, "
            f"restored {when('loaded_at')}. Changes made after that are not here.")


def _plugin(view: StaffView | None) -> ModuleType:
    """Datasette hooks as a plugin module: the banner on every page, the index's search, the
    person page (its memberships, donations and notes)."""
    # Lazy: datasette (and uvicorn) load only for `mirror serve`.
    from datasette import hookimpl

    labels = {f: f.replace("_", " ").capitalize() for spec in ENTITIES.values()
              for f in spec} | LABEL_OVERRIDES

    @hookimpl
    def extra_template_vars(template: str, request: Any, datasette: Any) -> Any:
        base: dict[str, Any] = {
            "vk_snapshot_banner": banner(view.snapshot) if view else "",
            "vk_has_people": bool(view and "person" in view.rows),
            "vk_entities": [(n, LABELS[n]) for n in LABELS if view and n in view.rows],
            "vk_labels": labels}
        if template != "row-staff-person.html" or view is None:
            return base

        async def person_page() -> dict[str, Any]:
            db = datasette.get_database("staff")
            pk = request.url_vars.get("pks", "")
            rows = (await db.execute("SELECT * FROM person WHERE id = ?", [pk])).rows
            person = dict(rows[0]) if rows else {}
            sections = []
            for entity, title in SECTIONS:
                if entity not in view.rows:
                    continue
                result = await db.execute(  # entity: a fixed name from SECTIONS
                    f"SELECT * FROM {entity} WHERE person_id = ?", [pk])  # noqa: S608
                columns = [c for c in result.columns if c != "person_id"]
                sections.append({"title": title, "columns": columns,
                                 "rows": [dict(r) for r in result.rows]})
            return base | {"vk_person": person, "vk_sections": sections}
        return person_page

    module = ModuleType("vaultkeeper_mirror")
    module.extra_template_vars = extra_template_vars  # type: ignore[attr-defined]
    return module


def _metadata(title: str, view: StaffView | None) -> dict[str, Any]:
    tables: dict[str, Any] = {SNAPSHOT_TABLE: {"hidden": True}}
    if view is not None and "person" in view.rows:
        tables["person"] = {"label_column": "name", "fts_table": "person_fts", "fts_pk": "rowid",
                            "title": "People", "sort": "name"}
        for suffix in ("", "_config", "_data", "_docsize", "_idx"):
            tables[f"person_fts{suffix}"] = {"hidden": True}
    for name, label in LABELS.items():
        if name != "person" and view is not None and name in view.rows:
            tables[name] = {"title": label}
    if view is not None and "organisation" in view.rows:
        tables["organisation"]["label_column"] = "name"
    return {"title": title,
            "description": "A read-only copy of the CRM, restored from a backup by vaultkeeper. "
                           "Changes made elsewhere are not reflected here.",
            "databases": {"staff": {"tables": tables}}}


def serve_mirror(path: Path, *, host: str = "127.0.0.1", port: int = 8001,
                 title: str = "CRM mirror (read-only)",
                 mappings: Mapping[str, CanonicalMapping] | None = None,
                 fields: Mapping[str, Collection[str]] | None = None,
                 include_raw: bool = True, work_dir: Path | None = None) -> None:
    """Serve ``path`` until interrupted (blocks). ``fields`` limits the staff view to what a
    role may read; ``include_raw=False`` leaves the raw mirror out (a restricted role)."""
    if not path.is_file():
        raise UsageError(f"no mirror at {path}",
                         "run `vaultkeeper drill` first (it builds the mirror), or pass --db")
    mapping = mapping_for(path, mappings or {})
    # Never sweep the system's temp folder itself: only a folder of our own inside it.
    parent = work_dir or Path(tempfile.gettempdir()) / f"vaultkeeper-{os.getuid()}"
    # A private 0700 folder, removed on exit and SIGTERM — uvicorn re-raises SIGTERM after its
    # graceful shutdown, which privatefs turns into KeyboardInterrupt — and by the next run of
    # any command (or the next `mirror serve` here) after a kill -9.
    with private_workdir(parent, "mirror-staff") as private:
        view = None
        if mapping is not None:
            view = build_staff_view(path, private / "staff.db", mapping, fields=fields)
        app = make_app(path, view, title=title, include_raw=include_raw)
        # Lazy: datasette (and uvicorn) load only for `mirror serve`.
        import uvicorn

        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")


def make_app(path: Path, view: StaffView | None, *, title: str, include_raw: bool) -> Any:
    """The Datasette ASGI app over the staff view (and the raw mirror)."""
    # Lazy: datasette (and uvicorn) load only for `mirror serve`.
    from datasette.app import Datasette
    from datasette.plugins import pm

    files = ([str(view.path)] if view else []) + ([str(path)] if include_raw or not view else [])
    templates = resources.files("vaultkeeper").joinpath("templates", "mirror")
    name = "vaultkeeper-mirror"
    if pm.get_plugin(name) is not None:
        pm.unregister(name=name)
    pm.register(_plugin(view), name=name)
    ds = Datasette(immutables=files, cors=False, template_dir=str(templates),
                   metadata=_metadata(title, view),
                   settings={"allow_download": False, "default_page_size": 50,
                             "sql_time_limit_ms": 3000, "suggest_facets": False,
                             "allow_csv_stream": False})
    asyncio.run(ds.invoke_startup())
    return ds.app()

