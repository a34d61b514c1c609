"""HubSpot CRM v3 writes (+ v4 association writes and property creation) for the sandbox.

Shapes and limits follow docs/connectors.md ("Writing back"): batches of at most 100 inputs;
a validation error anywhere in a batch create/update fails the whole batch with 400 and
HubSpot's ``Property values were not valid`` body; a duplicate contact e-mail fails it with
409 ``Contact already exists. Existing ID: …``; unknown ids in a batch update come back as a
207 multi-status; batch create results are *not* in input order (clients correlate them by
``objectWriteTraceId``), as HubSpot documents.
"""

from __future__ import annotations

import re
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import Dataset, iso_ms
from vaultkeeper.sandbox.gen_hubspot import contact
from vaultkeeper.sandbox.hs_assoc import TYPE_IDS
from vaultkeeper.sandbox.hs_meta import batch_inputs, error
from vaultkeeper.sandbox.wire import ApiError, Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi

BATCH_MAX = 100
ASSOC_BATCH_MAX = 2000  # v4 association batch create [2ND: Workato's HubSpot connector docs]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (writes happen "now", after the seed's as-of)."""
    return int(time.time() * 1000)


def all_types(ds: Dataset, obj: str) -> dict[str, str]:
    """Property name → type, seeded properties plus those created through the API."""
    custom = ds.custom_properties.get(obj)
    types = hs.property_types(obj)
    if not custom:
        return types
    return {**types, **{n: str(p["type"]) for n, p in custom.items()}}


@cache
def read_only(obj: str) -> frozenset[str]:
    """Properties whose values HubSpot computes (``modificationMetadata.readOnlyValue``)."""
    return frozenset(p["name"] for p in hs.properties_payload(obj)
                     if p["modificationMetadata"]["readOnlyValue"] or p["calculated"])


@cache
def _options(obj: str) -> dict[str, frozenset[str]]:
    return {p[0]: frozenset(p[5]) for p in hs.PROPERTIES[obj]
            if p[2] == "enumeration" and p[5]}


class HubSpotWrites:
    """The write endpoints of one sandbox's HubSpot API."""

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api
        self.ds = api.ds
        self._emails: dict[str, int] | None = None
        self._email_of: dict[int, str] = {}

    # -- routing (called from HubSpotApi._route; None = not a write route) ---------------
    def route(self, req: Request, p: list[str]) -> Response | None:
        """Answer a write request, or None when ``p`` is not a write route."""
        m, n, api = req.method, len(p), self.api
        if p[:3] == ["crm", "v3", "objects"] and n >= 4:
            obj = api._type(req, p[3])
            if n == 6 and p[4] == "batch" and m == "POST":
                action = p[5]
                if action == "create":
                    return self.batch_create(req, obj)
                if action == "update":
                    return self.batch_update(req, obj)
                if action == "archive":
                    return self.batch_archive(req, obj)
            if n == 4 and m == "POST":
                return self.single_create(req, obj)
            if n == 5 and m == "PATCH":
                return self.single_update(req, obj, p[4])
            if n == 5 and m == "DELETE":
                return self.batch_archive(req, obj, [p[4]])
        if p[:3] == ["crm", "v4", "associations"] and n == 7 and p[5] == "batch" \
                and p[6] == "create" and m in ("POST", "PUT"):
            return self.assoc_create(req, api._type(req, p[3]), api._type(req, p[4]))
        if p[:3] == ["crm", "v4", "objects"] and n == 8 and p[5] == "associations" \
                and m == "PUT":
            types = self._json(req)
            body = {"inputs": [{"from": {"id": p[4]}, "to": {"id": p[7]},
                                "types": types if isinstance(types, list) else []}]}
            return self.assoc_create(req, api._type(req, p[3]), api._type(req, p[6]), body)
        if p[:3] == ["crm", "v3", "properties"] and n == 4 and m == "POST":
            return self.create_property(req, api._type(req, p[3]))
        return None

    # -- helpers -------------------------------------------------------------------------
    def _json(self, req: Request) -> Any:
        try:
            return orjson.loads(req.body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise error(req, 400, f"Invalid input JSON: {exc}", "VALIDATION_ERROR") from None

    def _inputs(self, req: Request, limit: int = BATCH_MAX) -> list[dict[str, Any]]:
        inputs = batch_inputs(req, self._json(req), "objects")
        if len(inputs) > limit:
            raise error(req, 400, f"Batch input limit is {limit} but {len(inputs)} were given",
                        "VALIDATION_ERROR", context={"limit": [str(limit)]})
        return inputs

    def _index(self, obj: str, raw: Any) -> int:
        try:
            i = int(str(raw)) - hs.ID_BASES[obj]
        except ValueError:
            return -1
        return i if 0 <= i < self.ds.stores[obj].count else -1

    def email_index(self) -> dict[str, int]:
        """Live contacts by lower-cased e-mail (built on first use, kept up to date)."""
        if self._emails is None:
            store = self.ds.stores["contacts"]
            index: dict[str, int] = {}
            i = store.next_index(0, False)
            while i >= 0:
                if i < store.base:
                    email = (store.edits.get(i) or {}).get("email", contact(self.ds, i, False)
                                                           ["email"])
                else:
                    email = store.edits.get(i, {}).get("email")
                if email:
                    key = str(email).strip().lower()
                    if index.setdefault(key, i) == i:
                        self._email_of[i] = key
                i = store.next_index(i + 1, False)
            self._emails = index
        return self._emails

    def _problems(self, obj: str, props: Any) -> list[dict[str, str]]:
        """HubSpot's per-property validation errors for one input ([] when valid)."""
        if not isinstance(props, dict):
            return [{"error": "INVALID_INPUT", "name": "properties",
                     "message": "properties must be an object"}]
        types, ro, opts = all_types(self.ds, obj), read_only(obj), _options(obj)
        out = []
        for name, value in props.items():
            text = "" if value is None else str(value)
            if name not in types:
                out.append({"error": "PROPERTY_DOESNT_EXIST", "name": name,
                            "message": f'Property "{name}" does not exist'})
            elif name in ro:
                out.append({"error": "READ_ONLY_VALUE", "name": name,
                            "message": f'"{name}" is a read only property; its value cannot '
                                       "be set."})
            elif text and obj == "contacts" and name == "email" and not _EMAIL.match(text):
                out.append({"error": "INVALID_EMAIL", "name": name,
                            "message": f"Email address {text} is invalid"})
            elif text and types[name] == "number" and not _NUMBER.match(text):
                out.append({"error": "INVALID_DECIMAL", "name": name,
                            "message": f"{text} was not a valid number."})
            elif text and name in opts and not set(text.split(";")) <= opts[name]:
                out.append({"error": "INVALID_OPTION", "name": name,
                            "message": f'{text} was not one of the allowed options: '
                                       f'{", ".join(sorted(opts[name]))}'})
        return out

    def _invalid(self, req: Request, problems: list[dict[str, str]]) -> ApiError:
        detail = [{"isValid": False, "message": p["message"], "error": p["error"],
                   "name": p["name"], "localizedErrorMessage": p["message"]} for p in problems]
        return error(req, 400, "Property values were not valid: "
                     + orjson.dumps(detail).decode(), "VALIDATION_ERROR")

    def _conflicts(self, req: Request, obj: str, rows: list[tuple[int, dict[str, Any]]]) -> None:
        """409 when a contact e-mail is already taken (by another live contact)."""
        if obj != "contacts":
            return
        index = self.email_index()
        seen: dict[str, int] = {}
        for n, (i, props) in enumerate(rows):
            email = str(props.get("email") or "").strip().lower()
            if not email:
                continue
            if email in seen:
                raise error(req, 400, "Duplicate value found in batch input for property "
                            f"email: {email}", "VALIDATION_ERROR")
            seen[email] = n
            owner = index.get(email, -1)
            if owner >= 0 and owner != i:
                raise error(req, 409, f"Contact already exists. Existing ID: "
                            f"{hs.ID_BASES['contacts'] + owner}", "CONFLICT")

    def _store(self, obj: str, i: int, props: dict[str, Any], now: int) -> None:
        """Write property values (minus the fault switch's dropped property) into the overlay."""
        store = self.ds.stores[obj]
        drop = (self.api.faults.drop_property or "").lower()
        values = {k: (None if v is None else str(v)) for k, v in props.items()
                  if k.lower() != drop}
        edits = store.edits.setdefault(i, {})
        edits.update(values)
        edits[hs.modified_property(obj)] = iso_ms(now)
        store.touch(i, now)
        if obj == "contacts" and "email" in values and self._emails is not None:
            self._forget_email(i)
            if values["email"]:
                email = values["email"].strip().lower()
                if self._emails.setdefault(email, i) == i:
                    self._email_of[i] = email

    def _forget_email(self, i: int) -> None:
        email = self._email_of.pop(i, None)
        if email is not None and self._emails is not None and self._emails.get(email) == i:
            del self._emails[email]

    def _associate(self, req: Request, obj: str, i: int, to: str, j: int,
                   type_id: Any) -> str:
        """Set one association in the overlay; '' or the reason it is invalid."""
        found = self.ds.hubspot_link(obj, to)
        expected = self.api_type_id(obj, to)
        if found is None or expected is None:
            return f"{obj} cannot be associated with {to}"
        if type_id is not None and str(type_id) != str(expected):
            return (f"association type {type_id} is not valid from {obj} to {to} "
                    f"(valid: {expected})")
        target = self.ds.stores[to]
        if not 0 <= j < target.count or target.is_archived(j):
            return f"{hs.OBJECT_TYPES[to][1]} {hs.ID_BASES[to] + j} does not exist"
        link, forward = found
        if forward:
            link.set(i, j)
        else:
            link.set(j, i)
        return ""

    @staticmethod
    def api_type_id(a: str, b: str) -> int | None:
        """The unlabeled HUBSPOT_DEFINED association type id from ``a`` to ``b``."""
        return TYPE_IDS.get((a, b))

    def _inline_associations(self, req: Request, obj: str,
                             item: dict[str, Any]) -> list[tuple[str, int, Any]]:
        out = []
        for assoc in item.get("associations") or []:
            to_id = str(((assoc or {}).get("to") or {}).get("id", ""))
            types = (assoc or {}).get("types") or [{}]
            type_id = types[0].get("associationTypeId") if isinstance(types[0], dict) else None
            to = next((t for t in hs.ID_BASES if (a := self.api_type_id(obj, t)) is not None
                       and str(a) == str(type_id)), None)
            if to is None:
                raise error(req, 400, f"association type {type_id} is not valid for {obj}",
                            "VALIDATION_ERROR")
            j = self._index(to, to_id)
            if j < 0 or self.ds.stores[to].is_archived(j):
                raise error(req, 400, f"One or more associations are invalid: "
                            f"{hs.OBJECT_TYPES[to][1]} {to_id} does not exist",
                            "VALIDATION_ERROR")
            out.append((to, j, type_id))
        return out

    def _batch_body(self, results: list[dict[str, Any]], started: int,
                    errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
        out["startedAt"] = iso_ms(started)
        out["completedAt"] = iso_ms(now_ms())
        return out

    def _selection(self, obj: str, names: Any) -> tuple[str, ...]:
        return self.api.selection(obj, [str(n) for n in names])

    # -- endpoints -----------------------------------------------------------------------
    def batch_create(self, req: Request, obj: str, single: bool = False) -> Response:
        """``POST /crm/v3/objects/{obj}/batch/create`` (and the single create)."""
        started = now_ms()
        inputs = [self._json(req)] if single else self._inputs(req)
        problems = [p for item in inputs for p in self._problems(obj, item.get("properties"))]
        if problems:
            raise self._invalid(req, problems)
        with self.ds.write_lock:
            self._conflicts(req, obj, [(-1, dict(item.get("properties") or {}))
                                       for item in inputs])
            links = [self._inline_associations(req, obj, item) for item in inputs]
            store, results = self.ds.stores[obj], []
            for item, assocs in zip(inputs, links, strict=True):
                now = now_ms()
                i = store.append(now)
                props = dict(item.get("properties") or {})
                store.edits[i] = {"hs_object_id": str(hs.ID_BASES[obj] + i),
                                  "createdate": iso_ms(now)}
                self._store(obj, i, props, now)
                for to, j, type_id in assocs:
                    self._associate(req, obj, i, to, j, type_id)
                req.touched.append(str(hs.ID_BASES[obj] + i))
                record = self.api.record(obj, i, self._selection(obj, props))
                if item.get("objectWriteTraceId") is not None:
                    record["objectWriteTraceId"] = str(item["objectWriteTraceId"])
                results.append(record)
            self.ds.changed()
        if single:
            return json_response(201, results[0])
        # HubSpot does not promise input order; neither does the sandbox (newest first).
        return json_response(201, self._batch_body(results[::-1], started))

    def single_create(self, req: Request, obj: str) -> Response:
        """``POST /crm/v3/objects/{obj}``."""
        return self.batch_create(req, obj, single=True)

    def batch_update(self, req: Request, obj: str, single: str | None = None) -> Response:
        """``POST /crm/v3/objects/{obj}/batch/update`` (207 for unknown/archived ids)."""
        started = now_ms()
        inputs = [{"id": single, "properties": (self._json(req) or {}).get("properties")}] \
            if single is not None else self._inputs(req)
        raw_ids = [str(item.get("id", "")) for item in inputs]
        dupes = sorted({x for x in raw_ids if raw_ids.count(x) > 1})
        if dupes:
            raise error(req, 400, f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. "
                        "IDs must be unique", "VALIDATION_ERROR")
        problems = [p for item in inputs for p in self._problems(obj, item.get("properties"))]
        if problems:
            raise self._invalid(req, problems)
        store, results, missing = self.ds.stores[obj], [], []
        with self.ds.write_lock:
            rows = []
            for raw, item in zip(raw_ids, inputs, strict=True):
                i = self._index(obj, raw)
                if i < 0 or store.is_archived(i):
                    missing.append(raw)
                    continue
                rows.append((i, dict(item.get("properties") or {})))
            self._conflicts(req, obj, rows)
            for i, props in rows:
                self._store(obj, i, props, now_ms())
                req.touched.append(str(hs.ID_BASES[obj] + i))
                results.append(self.api.record(obj, i, self._selection(obj, props)))
            if rows:
                self.ds.changed()
        if single is not None:
            if missing:
                raise error(req, 404, "resource not found", "OBJECT_NOT_FOUND")
            return json_response(200, results[0])
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                   "message": f"Could not get some {hs.OBJECT_TYPES[obj][1].upper()} objects, "
                              "they may be deleted or not exist. Check that ids are valid.",
                   "context": {"ids": missing}}] if missing else None
        return json_response(207 if missing else 200,
                             self._batch_body(results, started, errors))

    def single_update(self, req: Request, obj: str, raw_id: str) -> Response:
        """``PATCH /crm/v3/objects/{obj}/{id}``."""
        return self.batch_update(req, obj, single=raw_id)

    def batch_archive(self, req: Request, obj: str, ids: list[str] | None = None) -> Response:
        """``POST …/batch/archive`` and ``DELETE …/{id}``: 204, unknown ids ignored."""
        if ids is None:
            ids = [str(item.get("id", "")) for item in self._inputs(req)]
        store = self.ds.stores[obj]
        with self.ds.write_lock:
            for raw in ids:
                i = self._index(obj, raw)
                if i >= 0 and store.set_archived(i, True, now_ms()):
                    req.touched.append(raw)
                    if obj == "contacts":
                        self._forget_email(i)
            self.ds.changed()
        return Response(204, b"")

    def assoc_create(self, req: Request, a: str, b: str,
                     body: dict[str, Any] | None = None) -> Response:
        """``POST /crm/v4/associations/{a}/{b}/batch/create`` (207 lists invalid inputs)."""
        started = now_ms()
        inputs = self._inputs(req, ASSOC_BATCH_MAX) if body is None else body["inputs"]
        results, errors = [], []
        with self.ds.write_lock:
            for item in inputs:
                raw_from = str((item.get("from") or {}).get("id", ""))
                raw_to = str((item.get("to") or {}).get("id", ""))
                types = item.get("types") or [{}]
                type_id = types[0].get("associationTypeId") if isinstance(types[0], dict) \
                    else None
                i = self._index(a, raw_from)
                reason = (f"{hs.OBJECT_TYPES[a][1]} {raw_from} does not exist"
                          if i < 0 or self.ds.stores[a].is_archived(i) else
                          self._associate(req, a, i, b, self._index(b, raw_to), type_id))
                if reason:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": reason,
                                   "context": {"fromObjectId": [raw_from],
                                               "toObjectId": [raw_to]}})
                    continue
                req.touched.append(f"{raw_from}->{raw_to}")
                results.append({"fromObjectTypeId": hs.OBJECT_TYPES[a][0],
                                "fromObjectId": int(raw_from),
                                "toObjectTypeId": hs.OBJECT_TYPES[b][0],
                                "toObjectId": int(raw_to), "labels": []})
            self.ds.changed()
        if body is not None and req.method == "PUT" and req.path.startswith("/crm/v4/objects"):
            if errors:
                raise error(req, 400, str(errors[0]["message"]), "VALIDATION_ERROR")
            return json_response(201, results[0])
        status = 207 if errors else 201
        return json_response(status, self._batch_body(results, started, errors))

    def create_property(self, req: Request, obj: str) -> Response:
        """``POST /crm/v3/properties/{obj}``: a custom property (409 if the name exists)."""
        body = self._json(req)
        if not isinstance(body, dict):
            raise error(req, 400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not body.get(k)]
        if missing:
            raise error(req, 400, f"Missing required fields: {', '.join(missing)}",
                        "VALIDATION_ERROR")
        name = str(body["name"])
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise error(req, 400, f"Property name {name!r} is invalid: use lower-case letters, "
                        "digits and underscores", "VALIDATION_ERROR")
        with self.ds.write_lock:
            if name in all_types(self.ds, obj):
                raise error(req, 409, f"Property named '{name}' already exists.", "CONFLICT")
            prop = hs.property_json(obj, (name, str(body["label"]), str(body["type"]),
                                          str(body["fieldType"]), str(body["groupName"]),
                                          (), False), 1000 + len(
                                              self.ds.custom_properties.get(obj, {})))
            prop["hasUniqueValue"] = bool(body.get("hasUniqueValue"))
            self.ds.custom_properties.setdefault(obj, {})[name] = prop
            req.touched.append(name)
            self.ds.changed()
        return json_response(201, prop)
