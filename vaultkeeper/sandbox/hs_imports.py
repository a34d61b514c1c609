"""HubSpot's CRM imports API (v3) for the sandbox: what an administrator's CSV import does.

``POST /crm/v3/imports`` takes ``multipart/form-data`` with an ``importRequest`` part (JSON:
``files[].fileImportPage.columnMappings`` and ``importOperations``) and one ``files`` part per
CSV. Each file has one primary object (the ``importOperations`` key, else the first mapping's
``columnObjectTypeId``). A mapping of the primary object with ``idColumnType:
HUBSPOT_ALTERNATE_ID`` is the match key of an ``UPDATE``/``UPSERT``; a mapping of *another*
object with ``idColumnType`` ``HUBSPOT_ALTERNATE_ID`` (or ``HUBSPOT_OBJECT_ID``) associates the
row's record with the record of that object whose property holds the value. Contacts are
de-duplicated on e-mail (a second row with the same e-mail updates the first contact), as
HubSpot does. A value HubSpot would refuse is left out and the row imported without it, with
an entry in ``GET /crm/v3/imports/{id}/errors``. Imports run synchronously: ``GET
/crm/v3/imports/{id}`` answers ``DONE`` with HubSpot's counters.
"""

from __future__ import annotations

import csv
import io
import threading
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

import orjson

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import iso_ms
from vaultkeeper.sandbox.hs_meta import error
from vaultkeeper.sandbox.hs_write import now_ms
from vaultkeeper.sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi

_BY_TYPE_ID = {type_id: name for name, (type_id, _s, _p) in hs.OBJECT_TYPES.items()}
_ID_COLUMNS = ("HUBSPOT_ALTERNATE_ID", "HUBSPOT_OBJECT_ID")


class HubSpotImports:
    """The imports endpoints of one sandbox's HubSpot API."""

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api
        self.ds = api.ds
        self.jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def route(self, req: Request, p: list[str]) -> Response | None:
        """Answer an imports request, or None when ``p`` is not one."""
        if p[:3] != ["crm", "v3", "imports"]:
            return None
        if len(p) == 3 and req.method == "POST":
            return self.start(req)
        if len(p) == 4 and req.method == "GET":
            return json_response(200, self._job(req, p[3])["public"])
        if len(p) == 5 and p[4] == "errors" and req.method == "GET":
            errors = self._job(req, p[3])["errors"]
            return json_response(200, {"results": errors, "total": len(errors)})
        return None

    def _job(self, req: Request, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise error(req, 404, f"Import {job_id} not found", "OBJECT_NOT_FOUND")
        return job

    # -- the request -------------------------------------------------------------------------
    def _parts(self, req: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        ctype = req.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            raise error(req, 415, "Imports need multipart/form-data (importRequest + files)",
                        "VALIDATION_ERROR")
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + req.body)
        request: dict[str, Any] | None = None
        files: dict[str, bytes] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if name == "importRequest":
                try:
                    request = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise error(req, 400, f"importRequest is not JSON: {exc}",
                                "VALIDATION_ERROR") from None
            elif name == "files":
                files[part.get_filename() or f"file-{len(files)}"] = data
        if not isinstance(request, dict) or not isinstance(request.get("files"), list):
            raise error(req, 400, "importRequest with a files list is required",
                        "VALIDATION_ERROR")
        return request, files

    def start(self, req: Request) -> Response:
        """``POST /crm/v3/imports``: run the import now; answer the job."""
        request, files = self._parts(req)
        counters = {"TOTAL_ROWS": 0, "CREATED_OBJECTS": 0, "UPDATED_OBJECTS": 0,
                    "CREATED_ASSOCIATIONS": 0, "ERRORS": 0}
        errors: list[dict[str, Any]] = []
        ops = request.get("importOperations") or {}
        for spec in request["files"]:
            name = str(spec.get("fileName") or "")
            if name not in files:
                raise error(req, 400, f"file {name!r} of importRequest was not uploaded",
                            "VALIDATION_ERROR")
            mappings = (spec.get("fileImportPage") or {}).get("columnMappings") or []
            if not mappings:
                raise error(req, 400, f"{name}: columnMappings are required", "VALIDATION_ERROR")
            self._file(req, name, files[name], mappings, ops, counters, errors)
        with self._lock:
            job_id = str(len(self.jobs) + 1)
            now = iso_ms(now_ms())
            public = {"id": job_id, "state": "DONE", "createdAt": now, "updatedAt": now,
                      "importName": request.get("name", ""), "optOutImport": False,
                      "metadata": {"counters": counters, "fileIds": list(files)}}
            self.jobs[job_id] = {"public": public, "errors": errors}
        return json_response(200, public)

    # -- one file ----------------------------------------------------------------------------
    def _file(self, req: Request, name: str, data: bytes, mappings: list[dict[str, Any]],
              ops: dict[str, str], counters: dict[str, int],
              errors: list[dict[str, Any]]) -> None:
        first = str(mappings[0].get("columnObjectTypeId", ""))
        primary_type = next(iter(ops)) if len(ops) == 1 else first
        obj = _BY_TYPE_ID.get(primary_type)
        if obj is None:
            raise error(req, 400, f"{name}: unknown object type {primary_type!r}",
                        "VALIDATION_ERROR")
        operation = str(ops.get(primary_type, "CREATE")).upper()
        own = [m for m in mappings if str(m.get("columnObjectTypeId")) == primary_type]
        key = next((m for m in own if m.get("idColumnType") in _ID_COLUMNS), None)
        props_of = [m for m in own if m is not key or operation == "CREATE"]
        links = [m for m in mappings if str(m.get("columnObjectTypeId")) != primary_type
                 and m.get("idColumnType") in _ID_COLUMNS]
        writes = self.api.writes
        text = data.decode("utf-8-sig")
        indexes: dict[tuple[str, str], dict[str, int]] = {}
        with self.ds.write_lock:
            for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
                counters["TOTAL_ROWS"] += 1
                props = {str(m["propertyName"]): row.get(str(m["columnName"]), "")
                         for m in props_of if row.get(str(m["columnName"]), "")}
                for problem in writes._problems(obj, props):
                    props.pop(problem["name"], None)
                    errors.append(self._error(name, line, problem["error"], obj,
                                              problem["name"]))
                target = self._match(obj, key, row, indexes) if key is not None else None
                if target is None and obj == "contacts" and props.get("email"):
                    target = writes.email_index().get(str(props["email"]).strip().lower())
                if target is None and operation == "UPDATE":
                    errors.append(self._error(name, line, "UNKNOWN_RECORD", obj,
                                              str((key or {}).get("propertyName", ""))))
                    continue
                now = now_ms()
                if target is None:
                    store = self.ds.stores[obj]
                    target = store.append(now)
                    store.edits[target] = {"hs_object_id": str(hs.ID_BASES[obj] + target),
                                           "createdate": iso_ms(now)}
                    counters["CREATED_OBJECTS"] += 1
                else:
                    counters["UPDATED_OBJECTS"] += 1
                writes._store(obj, target, props, now)
                for (o, prop), index in indexes.items():
                    if o == obj and props.get(prop):
                        index[str(props[prop])] = target
                for m in links:
                    other = _BY_TYPE_ID.get(str(m.get("columnObjectTypeId")), "")
                    value = row.get(str(m["columnName"]), "")
                    if not value or not other:
                        continue
                    j = self._match(other, m, row, indexes)
                    reason = ("no record" if j is None else
                              writes._associate(req, obj, target, other, j, None))
                    if reason:
                        errors.append(self._error(name, line, "UNKNOWN_ASSOCIATION_RECORD",
                                                  other, str(m["propertyName"])))
                    else:
                        counters["CREATED_ASSOCIATIONS"] += 1
            self.ds.changed()
        counters["ERRORS"] = len(errors)

    def _match(self, obj: str, mapping: dict[str, Any], row: dict[str, str],
               indexes: dict[tuple[str, str], dict[str, int]]) -> int | None:
        """The live record of ``obj`` whose property (or id) equals the row's value."""
        value = row.get(str(mapping["columnName"]), "")
        if not value:
            return None
        if mapping.get("idColumnType") == "HUBSPOT_OBJECT_ID":
            i = self.api.writes._index(obj, value)
            return i if i >= 0 and not self.ds.stores[obj].is_archived(i) else None
        prop = str(mapping["propertyName"])
        index = indexes.get((obj, prop))
        if index is None:
            store, index = self.ds.stores[obj], {}
            for i in range(store.count):
                if store.is_archived(i):
                    continue
                current = self.api.record(obj, i, (prop,))["properties"].get(prop)
                if current:
                    index.setdefault(str(current), i)
            indexes[(obj, prop)] = index
        return index.get(value)

    @staticmethod
    def _error(file: str, line: int, kind: str, obj: str, prop: str) -> dict[str, Any]:
        return {"id": f"{file}:{line}:{prop}", "errorType": kind, "objectType": obj.upper(),
                "knownColumnNumber": None, "sourceData": {"fileName": file, "lineNumber": line},
                "propertyName": prop, "createdAt": iso_ms(now_ms())}
