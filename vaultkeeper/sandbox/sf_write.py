"""Salesforce REST writes for the sandbox: sObject Collections, single sObject rows, undelete.

``POST|PATCH|DELETE /services/data/vXX.X/composite/sobjects`` take at most 200 records and
answer one ``{id, success, errors}`` per record (``allOrNone`` rolls every record back when
one fails); ``POST /sobjects/{Name}`` and ``PATCH|DELETE /sobjects/{Name}/{id}`` answer
201/204 or Salesforce's error array. Undelete is not a REST resource: Salesforce offers it
through the SOAP API's ``undelete()`` call, which the sandbox serves at
``POST /services/Soap/u/{version}`` (partner WSDL shape, at most 200 ids).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import orjson

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.hs_write import now_ms
from vaultkeeper.sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.salesforce import SalesforceApi

COLLECTION_MAX = 200
JSON_SF = "application/json;charset=UTF-8"
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_PREFIXES = {v: k for k, v in sf.KEY_PREFIX.items()}
ROLLED_BACK = ("ALL_OR_NONE_OPERATION_ROLLED_BACK",
               "Record rolled back because not all records were valid and the request was "
               "using AllOrNone header")
# Picklists Salesforce fills in on insert although they are not nillable.
_DEFAULTED = {("Task", "Status"), ("Task", "Priority")}


def _err(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


def _array(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return json_response(status, [body], content_type=JSON_SF)


class SalesforceWrites:
    """The write endpoints of one sandbox's Salesforce API."""

    def __init__(self, api: SalesforceApi) -> None:
        self.api = api
        self.ds = api.ds

    # -- routing -------------------------------------------------------------------------
    def route(self, req: Request, rest: list[str]) -> Response | None:
        """Answer a write under ``/services/data/vXX.X/…`` (None: not a write route)."""
        m = req.method
        if rest == ["composite", "sobjects"]:
            if m == "DELETE":
                return self.collection_delete(req)
            if m in ("POST", "PATCH"):
                return self.collection_write(req, update=m == "PATCH")
        if rest[:1] == ["sobjects"] and len(rest) >= 2:
            name = next((n for n in sf.FIELDS if n.lower() == rest[1].lower()), None)
            if name is None:
                return _array(404, "NOT_FOUND", "The requested resource does not exist")
            if len(rest) == 2 and m == "POST":
                return self.single(req, name, None)
            if len(rest) == 3 and m == "PATCH":
                return self.single(req, name, rest[2])
            if len(rest) == 3 and m == "DELETE":
                result = self._delete(req, rest[2], name)
                if result["success"]:
                    return Response(204, b"")
                error = result["errors"][0]
                return _array(404, error["statusCode"], error["message"], [])
        return None

    # -- validation ----------------------------------------------------------------------
    def _body(self, req: Request) -> Any:
        try:
            return orjson.loads(req.body or b"null")
        except orjson.JSONDecodeError as exc:
            raise _Refused(_array(400, "JSON_PARSER_ERROR",
                                  f"Unexpected character: {exc}")) from None

    def _check(self, name: str, record: dict[str, Any], update: bool,
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(field values to store, per-record errors). Unknown fields refuse the request."""
        fmap = sf.field_map(name)
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        locked: list[str] = []
        for key, value in record.items():
            if key in ("attributes", "Id") and (key != "Id" or update):
                continue
            field = fmap.get(key.lower())
            if field is None:
                raise _Refused(_array(400, "INVALID_FIELD",
                                      f"No such column '{key}' on sobject of type {name}"))
            describe = sf.field_describe(field)
            if not describe["updateable" if update else "createable"]:
                locked.append(field[0])
                continue
            values[field[0]] = value
        if locked:
            errors.append(_err("INVALID_FIELD_FOR_INSERT_UPDATE",
                               f"Unable to create/update fields: {', '.join(locked)}. Please "
                               "check the security settings of this field and verify that it is "
                               "read/write for your profile or permission set.", locked))
        required = [f[0] for f in sf.FIELDS[name]
                    if not f[4] and f[1] not in ("boolean", "id", "reference")
                    and sf.field_describe(f)["createable"] and (name, f[0]) not in _DEFAULTED]
        if update:
            missing = [f for f in required if f in values and values[f] in (None, "")]
        else:
            missing = [f for f in required if values.get(f) in (None, "")]
        if missing:
            errors.append(_err("REQUIRED_FIELD_MISSING",
                               f"Required fields are missing: [{', '.join(missing)}]", missing))
        for fname, value in values.items():
            f = fmap[fname.lower()]
            if value in (None, ""):
                continue
            if f[1] == "email" and not _EMAIL.match(str(value)):
                errors.append(_err("INVALID_EMAIL_ADDRESS",
                                   f"{f[2]}: invalid email address: {value}", [fname]))
            elif f[1] == "reference":
                problem = self._reference(f, str(value))
                if problem:
                    errors.append(problem)
        return values, errors

    def _reference(self, f: sf.Field, value: str) -> dict[str, Any] | None:
        targets = [t for t in f[6] if t in sf.KEY_PREFIX]
        prefix = value[:3]
        if prefix not in [sf.KEY_PREFIX[t] for t in targets]:
            return _err("FIELD_INTEGRITY_EXCEPTION",
                        f"{f[2]}: id value of incorrect type: {value}", [f[0]])
        target = _PREFIXES[prefix]
        if target == "User":
            return None if value in sf.USER_IDS else _err(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f[0]])
        j = sf.id_index(prefix, value)
        store = sf.store_of(self.ds, target)
        if j is None or not 0 <= j < store.count:
            return _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f[0]])
        if store.is_archived(j):
            return _err("ENTITY_IS_DELETED", "entity is deleted", [f[0]])
        return None

    def _locate(self, raw: str, name: str | None = None) -> tuple[str, int] | dict[str, Any]:
        """(sobject, index) of a live or deleted record, or the per-record error."""
        sobject = _PREFIXES.get(raw[:3])
        if sobject not in sf.FIELDS or (name is not None and sobject != name):
            return _err("MALFORMED_ID", f"malformed id {raw}", ["Id"])
        i = sf.id_index(raw[:3], raw)
        store = sf.store_of(self.ds, sobject)
        if i is None or not 0 <= i < store.count:
            return _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        return sobject, i

    # -- storing -------------------------------------------------------------------------
    def _apply(self, name: str, i: int, values: dict[str, Any], now: int) -> None:
        store = sf.store_of(self.ds, name)
        drop = (self.api.faults.drop_property or "").lower()
        edits = store.sf_edits.setdefault(i, {})
        for field, value in values.items():
            if field.lower() == drop:
                continue
            link_name = sf.REF_LINKS.get((name, field))
            if link_name is not None:
                link = self.ds.links[link_name]
                j = sf.id_index(str(value)[:3], str(value)) if value else None
                link.set(i, -1 if j is None else j)
                continue
            edits[field] = value
        store.touch(i, now)

    # -- endpoints -----------------------------------------------------------------------
    def collection_write(self, req: Request, update: bool) -> Response:
        """sObject Collections create (POST) / update (PATCH)."""
        try:
            body = self._body(req)
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                return _array(400, "JSON_PARSER_ERROR", "The request body must be "
                              "{\"allOrNone\": …, \"records\": [...]}")
            records = body["records"]
            if len(records) > COLLECTION_MAX:
                return _array(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit "
                              f"more than {COLLECTION_MAX} records into this call", [])
            all_or_none = bool(body.get("allOrNone"))
            with self.ds.write_lock:
                planned = [self._plan(r, update) for r in records]
                failed = any(p[3] for p in planned)
                results, now = [], now_ms()
                for name, i, values, errors in planned:
                    if errors or (all_or_none and failed):
                        rid = sf.sf_id(sf.KEY_PREFIX[name], i) if name and i >= 0 else None
                        results.append({"id": rid if update else None, "success": False,
                                        "errors": errors or [_err(*ROLLED_BACK)]})
                        continue
                    if not update:
                        i = sf.store_of(self.ds, name).append(now)
                    self._apply(name, i, values, now)
                    rid = sf.sf_id(sf.KEY_PREFIX[name], i)
                    req.touched.append(rid)
                    results.append({"id": rid, "success": True, "errors": []})
                self.ds.changed()
        except _Refused as exc:
            return exc.response
        return json_response(200, results, content_type=JSON_SF)

    def _plan(self, record: Any, update: bool,
              ) -> tuple[str, int, dict[str, Any], list[dict[str, Any]]]:
        if not isinstance(record, dict):
            raise _Refused(_array(400, "JSON_PARSER_ERROR", "each record must be an object"))
        kind = str((record.get("attributes") or {}).get("type", ""))
        name = next((n for n in sf.FIELDS if n.lower() == kind.lower()), None)
        if name is None:
            raise _Refused(_array(400, "INVALID_TYPE", f"sObject type '{kind}' is not supported"
                                  if kind else "the attributes.type of a record is required"))
        i = -1
        if update:
            raw = str(record.get("Id") or record.get("id") or "")
            if not raw:
                return name, -1, {}, [_err("MISSING_ARGUMENT",
                                           "Id not specified in an update call", ["Id"])]
            found = self._locate(raw, name)
            if isinstance(found, dict):
                return name, -1, {}, [found]
            i = found[1]
            if sf.store_of(self.ds, name).is_archived(i):
                return name, i, {}, [_err("ENTITY_IS_DELETED", "entity is deleted", [])]
        values, errors = self._check(name, record, update)
        return name, i, values, errors

    def single(self, req: Request, name: str, raw_id: str | None) -> Response:
        """``POST /sobjects/{Name}`` (201) and ``PATCH /sobjects/{Name}/{id}`` (204)."""
        try:
            record = self._body(req)
            if not isinstance(record, dict):
                return _array(400, "JSON_PARSER_ERROR", "the body must be a JSON object")
            record = {**record, "attributes": {"type": name}}
            if raw_id is not None:
                record["Id"] = raw_id
            with self.ds.write_lock:
                _, i, values, errors = self._plan(record, raw_id is not None)
                if errors:
                    first = errors[0]
                    status = 404 if first["statusCode"] in (
                        "ENTITY_IS_DELETED", "MALFORMED_ID") and raw_id else 400
                    return _array(status, first["statusCode"], first["message"],
                                  first["fields"])
                now = now_ms()
                if raw_id is None:
                    i = sf.store_of(self.ds, name).append(now)
                self._apply(name, i, values, now)
                rid = sf.sf_id(sf.KEY_PREFIX[name], i)
                req.touched.append(rid)
                self.ds.changed()
        except _Refused as exc:
            return exc.response
        if raw_id is not None:
            return Response(204, b"")
        return json_response(201, {"id": rid, "success": True, "errors": []},
                             content_type=JSON_SF)

    def _delete(self, req: Request, raw: str, name: str | None = None) -> dict[str, Any]:
        found = self._locate(raw, name)
        if isinstance(found, dict):
            return {"id": raw, "success": False, "errors": [found]}
        sobject, i = found
        store = sf.store_of(self.ds, sobject)
        with self.ds.write_lock:
            if not store.set_archived(i, True, now_ms()):
                return {"id": raw, "success": False,
                        "errors": [_err("ENTITY_IS_DELETED", "entity is deleted", [])]}
            req.touched.append(raw)
            self.ds.changed()
        return {"id": raw, "success": True, "errors": []}

    def collection_delete(self, req: Request) -> Response:
        """``DELETE /composite/sobjects?ids=…&allOrNone=…``."""
        ids = req.qlist("ids")
        if len(ids) > COLLECTION_MAX:
            return _array(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                          f"than {COLLECTION_MAX} records into this call", [])
        if (req.q1("allOrNone") or "").lower() == "true":
            bad = [r for r in ids if isinstance(self._locate(r), dict)
                   or self._is_deleted(r)]
            if bad:
                return json_response(200, [
                    {"id": r, "success": False, "errors": [
                        _err("ENTITY_IS_DELETED", "entity is deleted", []) if r in bad
                        else _err(*ROLLED_BACK)]} for r in ids], content_type=JSON_SF)
        return json_response(200, [self._delete(req, r) for r in ids], content_type=JSON_SF)

    def _is_deleted(self, raw: str) -> bool:
        found = self._locate(raw)
        return not isinstance(found, dict) and \
            sf.store_of(self.ds, found[0]).is_archived(found[1])

    # -- SOAP undelete ---------------------------------------------------------------------
    def soap(self, req: Request) -> Response:
        """``POST /services/Soap/u/{version}`` with an ``undelete`` body (partner WSDL)."""
        try:
            root = ET.fromstring(req.body)  # noqa: S314 - local sandbox, trusted test input
        except ET.ParseError as exc:
            return _soap_fault("soapenv:Client", f"Unable to parse the request: {exc}")
        call = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "undelete"),
                    None)
        if call is None:
            return _soap_fault("sf:UNSUPPORTED_API_CALL",
                               "The sandbox's SOAP endpoint only serves undelete()")
        ids = [(el.text or "").strip() for el in call if el.tag.rsplit("}", 1)[-1] == "ids"]
        if len(ids) > COLLECTION_MAX:
            return _soap_fault("sf:EXCEEDED_ID_LIMIT", "EXCEEDED_ID_LIMIT: record limit "
                               f"reached. cannot submit more than {COLLECTION_MAX} records "
                               "into this call")
        parts = []
        with self.ds.write_lock:
            for raw in ids:
                found = self._locate(raw)
                ok, code, message = False, "", ""
                if isinstance(found, dict):
                    code, message = found["statusCode"], found["message"]
                else:
                    store = sf.store_of(self.ds, found[0])
                    if store.set_archived(found[1], False, now_ms()):
                        ok = True
                        req.touched.append(raw)
                    else:
                        code, message = "UNDELETE_FAILED", "Entity is not in the recycle bin"
                err = "" if ok else (f"<errors><statusCode>{escape(code)}</statusCode>"
                                     f"<message>{escape(message)}</message></errors>")
                parts.append(f"<result>{err}<id>{escape(raw)}</id>"
                             f"<success>{'true' if ok else 'false'}</success></result>")
            self.ds.changed()
        return _soap("<undeleteResponse>" + "".join(parts) + "</undeleteResponse>")


def soap_session(body: bytes) -> str:
    """The ``sessionId`` of a SOAP request's ``SessionHeader`` ('' when absent)."""
    m = re.search(rb"<(?:\w+:)?sessionId>([^<]*)</(?:\w+:)?sessionId>", body)
    return m.group(1).decode(errors="replace").strip() if m else ""


def _soap(inner: str, status: int = 200) -> Response:
    xml = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
           '"http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
           'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body>'
           f"{inner}</soapenv:Body></soapenv:Envelope>")
    return Response(status, xml.encode(), "text/xml;charset=UTF-8")


def _soap_fault(code: str, message: str) -> Response:
    return _soap(f"<soapenv:Fault><faultcode>{escape(code)}</faultcode><faultstring>"
                 f"{escape(message)}</faultstring></soapenv:Fault>", 500)


class _Refused(Exception):
    """The whole request is refused (the response is ready)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


__all__ = ["SalesforceWrites", "soap_session"]
