"""``vaultkeeper emergency rehearse``: import a package into an empty CRM, export, reconcile."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultkeeper import registry
from vaultkeeper.canonical import load_canonical
from vaultkeeper.config import Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.db import rehearsals as rdb
from vaultkeeper.errors import UsageError, VaultkeeperError
from vaultkeeper.services.rehearse import hs_import, tryton, vendor
from vaultkeeper.services.rehearse.hs_import import file_expectations
from vaultkeeper.services.rehearse.importfiles import FileCheck, check_import_files
from vaultkeeper.services.rehearse.importfiles import losses as file_losses
from vaultkeeper.services.rehearse.model import (
    LoadStats,
    PackageData,
    Returned,
    TargetMapping,
    load_mapping,
    read_package,
)
from vaultkeeper.services.rehearse.reconcile import EntityResult, reconcile, relation_coverage
from vaultkeeper.services.rehearse.targets import Target
from vaultkeeper.services.rehearse.tryton import TrytonLoader
from vaultkeeper.services.rehearse.vendor import rehearse_vendor
from vaultkeeper.targets.tryton_rpc import TrytonRpc

Progress = Callable[[str, int], None]


@dataclass
class RehearsalResult:
    """The outcome: per entity what was imported, carried, linked and lost."""

    package: Path
    target: Target
    mapping: TargetMapping
    entities: list[EntityResult]
    stats: LoadStats
    back_notes: list[str]
    started_at: str
    seconds: dict[str, float] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)
    rehearsal_id: int | None = None
    extras: dict[str, dict[str, int]] = field(default_factory=dict)
    relation_coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    via: str = "api"
    """How the records went in: import (CSV imports API), api (write API), json-rpc."""
    import_files: list[FileCheck] | None = None
    """The package's import/<kind>/ files against what was carried (vendor targets)."""

    @property
    def ok(self) -> bool:
        """Every record came back with every value and link, and the import files hold them."""
        return all(e.ok for e in self.entities) and not file_losses(self.import_files or [])

    def losses(self) -> list[str]:
        """One line per lost field or relation, naming object and field."""
        out = []
        for e in self.entities:
            obj = self.objects.get(e.entity)
            where = f"{e.entity} ({obj})" if obj else e.entity
            if e.missing:
                out.append(f"{where}: {len(e.missing)} of {e.records} records did not come "
                           f"back (first: {', '.join(e.missing[:3])})")
            for f in e.lost_fields():
                what = f"relation {e.entity}.{f.name} → {f.relation}" if f.relation else \
                    f"field {e.entity}.{f.name}"
                why = " (the mapping drops it)" if f.name in e.dropped else ""
                out.append(f"{where}: {what} lost {f.lost} of {f.expected} values{why}")
        return out + file_losses(self.import_files or [])

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object (also stored in the state database)."""
        return {
            "ok": self.ok, "result": "passed" if self.ok else "failed",
            "rehearsal_id": self.rehearsal_id, "date": self.started_at,
            "package": str(self.package), "target": self.target.as_json(),
            "mapping": self.mapping.source, "via": self.via,
            "objects": {e.entity: {"object": self.objects.get(e.entity), **e.as_json()}
                        for e in self.entities},
            "records": sum(e.records for e in self.entities),
            "records_back": sum(e.back for e in self.entities),
            "relations_linked": sum(f.carried for e in self.entities for f in e.fields
                                    if f.relation),
            "relations_expected": sum(f.expected for e in self.entities for f in e.fields
                                      if f.relation),
            "lost": self.losses(), "notes": [*self.stats.notes, *self.back_notes][:50],
            "outside_canonical": {
                "fields": {e: dict(sorted(f.items(), key=lambda kv: -kv[1]))
                           for e, f in self.extras.items() if f},
                "relations": self.relation_coverage},
            "seconds": self.seconds,
            "import_files": None if self.import_files is None else {
                c.entity: c.as_json() for c in self.import_files},
        }


def _objects_of(settings: Settings | None, pkg: PackageData) -> dict[str, str]:
    """entity → the exported object feeding it (from the package's connector's mapping)."""
    try:
        meta = json.loads((pkg.root / "package.json").read_text(encoding="utf-8"))
        connector = meta.get("source", {}).get("connector", "")
        mappings = load_canonical(settings.policies_dir if settings else None)
    except (OSError, ValueError, VaultkeeperError):
        return {}
    mapping = mappings.get(connector)
    return {e.entity: e.object for e in mapping.entities} if mapping else {}


def _load_and_export(target: Target, pkg: PackageData, mapping: TargetMapping,
                     progress: Progress, via: str
                     ) -> tuple[LoadStats, Returned, dict[str, float]]:
    times: dict[str, float] = {}
    if target.kind == "tryton" and not target.sandbox:
        rpc = TrytonRpc(target.url, target.database)
        try:
            password = target.password.reveal() if target.password else ""
            rpc.login(target.user, password)
            loader = TrytonLoader(rpc, mapping, progress)
            t0 = time.monotonic()
            stats = loader.load(pkg)
            times["import_s"] = round(time.monotonic() - t0, 2)
            t0 = time.monotonic()
            back = loader.export()
            times["export_s"] = round(time.monotonic() - t0, 2)
        finally:
            rpc.close()
        return stats, back, times
    return rehearse_vendor(target, pkg, mapping, progress, via=via)


def default_mapping(kind: str, via: str = "api"
                    ) -> tuple[dict[str, dict[str, str]], frozenset[str]]:
    """The built-in mapping of a target kind and the destinations it may use."""
    if kind == "tryton":
        return tryton.DEFAULT_MAPPING, tryton.DESTINATIONS
    if via == "import":
        return hs_import.DEFAULT_MAPPING, vendor.destinations(kind)
    return vendor.default_mapping(kind), vendor.destinations(kind)


def choose_via(target: Target, package: Path, via: str | None) -> str:
    """How records go in: ``import`` (HubSpot's CSV imports of the package's own files, when
    the package was built for HubSpot), ``api`` (the write API), or ``json-rpc`` (Tryton)."""
    if target.kind == "tryton":
        return "json-rpc"
    csv_imports = registry.rehearsal(target.kind).imports is not None
    if via == "import" and not csv_imports:
        raise UsageError("--via import is available for HubSpot targets only",
                         "use --via api (sObject Collections) for Salesforce")
    has_files = (package / "import" / target.kind).is_dir()
    if via == "import" and not has_files:
        raise UsageError(f"the package has no import/{target.kind}/ files",
                         f"build it with `vaultkeeper emergency --target {target.kind}`, or "
                         "use --via api")
    if via is None:
        return "import" if csv_imports and has_files else "api"
    return via


def rehearse(package: Path, target: Target, settings: Settings | None, *,
             mapping_file: Path | None = None, progress: Progress | None = None,
             record: bool = True, via: str | None = None) -> RehearsalResult:
    """Run one rehearsal; recorded in the state database when ``settings`` has one."""
    progress = progress or (lambda _what, _n: None)
    pkg = read_package(package)
    via = choose_via(target, package, via)
    defaults, valid = default_mapping(target.kind, via)
    mapping = load_mapping(target.kind, defaults, mapping_file or target.mapping, valid)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    db = open_state_db(settings.state_dir) if settings is not None and record else None
    rid = None
    if db is not None:
        meta_raw = (package / "package.json").read_bytes()
        rid = rdb.start_rehearsal(
            db, package=str(package.resolve()),
            package_created=str(json.loads(meta_raw).get("created_at", "")),
            package_sha256=hashlib.sha256(meta_raw).hexdigest(), target=target.label,
            kind=target.kind)
    try:
        stats, back, seconds = _load_and_export(target, pkg, mapping, progress, via)
        t0 = time.monotonic()
        expected = pkg
        if via == "import":
            expected = file_expectations(target.kind, pkg, mapping)
        entities = reconcile(expected, back, stats, mapping)
        seconds["reconcile_s"] = round(time.monotonic() - t0, 2)
    except BaseException as exc:
        if db is not None and rid is not None:
            message = exc.message if isinstance(exc, VaultkeeperError) else type(exc).__name__
            rdb.finish_rehearsal(db, rid, result="error", error=message)
        raise
    objects = _objects_of(settings, pkg)
    result = RehearsalResult(package, target, mapping, entities, stats, back.notes, started,
                             seconds, objects, rid, pkg.extras,
                             relation_coverage(pkg, objects), via=via)
    if target.kind != "tryton":
        result.import_files = check_import_files(pkg, target.kind, mapping)
        if result.import_files is None:
            result.back_notes.append(f"the package has no import/{target.kind}/ folder (built "
                                     f"for another target): its {target.kind} import files "
                                     "were not checked")
    if db is not None and rid is not None:
        data = result.as_json()
        rdb.finish_rehearsal(db, rid, result=data["result"], records=data["records"],
                             lost=sum(f.lost for e in entities for f in e.fields)
                             + sum(len(e.missing) for e in entities), report=data)
    return result
