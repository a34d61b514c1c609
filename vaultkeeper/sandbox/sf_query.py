"""SOQL execution against the generated data: planning, filtering, ordering, paging."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.data import Dataset, ObjectStore
from vaultkeeper.sandbox.soql import (
    Literal,
    Query,
    SoqlError,
    like_regex,
    parse,
    parse_datetime,
)

_STRINGS = ("id", "reference", "string", "picklist", "email", "phone", "url", "textarea",
            "combobox", "multipicklist")
_NUMBERS = ("double", "currency", "percent", "int")
_FAST_TIMES = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
Pred = Callable[[int, "_Row"], bool]


def invalid_field(name: str, sobject: str) -> SoqlError:
    """The INVALID_FIELD error for an unknown column, worded like Salesforce."""
    return SoqlError(
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.")


class _Row:
    """Field values of one record, generated only when a slow field is needed."""

    __slots__ = ("ds", "i", "sobject", "vals")

    def __init__(self, ds: Dataset, sobject: str, i: int) -> None:
        self.ds, self.sobject, self.i = ds, sobject, i
        self.vals: dict[str, Any] | None = None

    def get(self, name: str) -> Any:
        if self.vals is None:
            self.vals = sf.values(self.ds, self.sobject, self.i)
        return self.vals[name]


@dataclass
class Plan:
    """How to produce the rows of one query."""

    query: Query
    sobject: str
    archived: bool | None  # None: live and deleted (queryAll), False: live only, True: deleted
    lo: int
    hi: int
    residual: Pred | None
    columns: list[tuple[str, str | None, list[str]]]  # (field or relationship, target, fields)
    natural_desc: bool = False
    matches: array | None = None
    total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Executor:
    """Plans and runs queries for one dataset."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def plan(self, text: str, include_deleted: bool) -> Plan:
        """Parse, validate and (when needed) evaluate a query; raises ``SoqlError``."""
        q = parse(text)
        sobject = self._sobject(q.sobject)
        store = sf.store_of(self.ds, sobject)
        columns = self._columns(q, sobject)
        conjuncts = _conjuncts(q.where)
        archived: bool | None = None if include_deleted else False
        lo, hi, rest = 0, store.count, []
        prefix = sf.KEY_PREFIX[sobject]
        empty = False
        for node in conjuncts:
            if node[0] == "cmp" and node[1].lower() == "id" and node[3].kind == "string":
                idx = sf.id_index(prefix, node[3].value)
                if idx is not None:
                    op = node[2]
                    if op in (">", ">=", "="):
                        lo = max(lo, idx + (op == ">"))
                    if op in ("<", "<=", "="):
                        hi = min(hi, idx + (op != "<"))
                    if op != "!=":
                        continue
            if node[0] == "cmp" and node[1].lower() == "isdeleted" and node[2] == "=" \
                    and node[3].kind == "boolean":
                want = node[3].value
                if archived is None:
                    archived = want
                    continue
                if archived == want:
                    continue
                empty = True
            rest.append(node)
        residual = self._predicate(sobject, _join(rest)) if rest else None
        hi = max(lo, hi)
        if empty:
            hi = lo
        plan = Plan(q, sobject, archived, lo, hi, residual, columns)
        order = [(self._field(sobject, f)[0], desc, nl) for f, desc, nl in q.order]
        natural = residual is None and (not order or (len(order) == 1 and order[0][0] == "Id"))
        if natural:
            plan.natural_desc = bool(order and order[0][1])
            plan.total = store.rank(hi, archived) - store.rank(lo, archived)
        else:
            plan.matches = self._evaluate(plan, store, order)
            plan.total = len(plan.matches)
        plan.total = max(0, plan.total - q.offset)
        if q.limit is not None:
            plan.total = min(plan.total, q.limit)
        return plan

    # -- validation ------------------------------------------------------------------------
    @staticmethod
    def _sobject(name: str) -> str:
        for known in sf.FIELDS:
            if known.lower() == name.lower():
                return known
        raise SoqlError(
            "INVALID_TYPE",
            f"\nSELECT ... FROM {name}\n{' ' * 16}^\nERROR at Row:1:Column:16\nsObject type "
            f"'{name}' is not supported. If you are attempting to use a custom object, be sure "
            "to append the '__c' after the entity name. Please reference your WSDL or the "
            "describe call for the appropriate names.")

    @staticmethod
    def _field(sobject: str, name: str) -> sf.Field:
        found = sf.field_map(sobject).get(name.lower())
        if found is None:
            raise invalid_field(name, sobject)
        return found

    def _columns(self, q: Query, sobject: str) -> list[tuple[str, str | None, list[str]]]:
        if q.count or q.count_field:
            if q.fields:
                raise SoqlError("MALFORMED_QUERY", "COUNT() cannot be mixed with other fields")
            if q.count_field:
                self._field(sobject, q.count_field)
            return []
        cols: list[tuple[str, str | None, list[str]]] = []
        seen: set[str] = set()
        for name in q.fields:
            if name.lower() in seen:
                raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {name}")
            seen.add(name.lower())
            if "." not in name:
                cols.append((self._field(sobject, name)[0], None, []))
                continue
            rel, _, sub = name.partition(".")
            ref = next((f for f in sf.FIELDS[sobject]
                        if f[7] and f[7].lower() == rel.lower()), None)
            targets = [t for t in (ref[6] if ref else ()) if t in sf.FIELDS]
            if ref is None or not targets or "." in sub:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{rel}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.")
            if len(targets) == 1:
                canonical = self._field(targets[0], sub)[0]
            elif sub.lower() in ("id", "name"):  # polymorphic (Who/What): common fields only
                canonical = "Id" if sub.lower() == "id" else "Name"
            else:
                raise invalid_field(sub, "Name")
            existing = next((c for c in cols if c[0] == ref[7]), None)
            if existing:
                existing[2].append(canonical)
            else:
                cols.append((str(ref[7]), ref[0], [canonical]))
        return cols

    # -- filtering -------------------------------------------------------------------------
    def _predicate(self, sobject: str, node: Any) -> Pred:
        kind = node[0]
        if kind in ("and", "or"):
            a, b = self._predicate(sobject, node[1]), self._predicate(sobject, node[2])
            if kind == "and":
                return lambda i, row: a(i, row) and b(i, row)
            return lambda i, row: a(i, row) or b(i, row)
        if kind == "not":
            inner = self._predicate(sobject, node[1])
            return lambda i, row: not inner(i, row)
        name = node[1]
        if "." in name:
            raise SoqlError("INVALID_FIELD", f"The sandbox cannot filter on the relationship "
                            f"field '{name}'; filter on the id field instead")
        f = self._field(sobject, name)
        get = self._getter(sobject, f)
        ftype = f[1]
        if ftype == "address":
            raise SoqlError("INVALID_FIELD", f"field '{f[0]}' can not be filtered in a query "
                            "call")
        if kind == "like":
            rx = like_regex(node[2])
            return lambda i, row: (v := get(i, row)) is not None and bool(rx.match(str(v)))
        if kind == "in":
            wanted = {self._literal(f, lit) for lit in node[2]}
            negate = node[3]
            return lambda i, row: (get(i, row) in wanted) != negate
        op, lit = node[2], node[3]
        value = self._literal(f, lit)
        if value is None:
            if op not in ("=", "!="):
                raise SoqlError("MALFORMED_QUERY", f"invalid operator on null for '{f[0]}'")
            return (lambda i, row: get(i, row) is None) if op == "=" else \
                (lambda i, row: get(i, row) is not None)
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        fn = ops[op]
        if op == "!=":
            return lambda i, row: fn(get(i, row), value)
        return lambda i, row: (v := get(i, row)) is not None and fn(v, value)

    @staticmethod
    def _literal(f: sf.Field, lit: Literal) -> Any:
        name, ftype = f[0], f[1]
        if lit.kind == "null":
            return None
        expected = ("dateTime" if ftype == "datetime" else "date" if ftype == "date" else
                    "boolean" if ftype == "boolean" else "double" if ftype in _NUMBERS else
                    "string")
        ok = {"dateTime": "datetime", "date": "date", "boolean": "boolean", "double": "number",
              "string": "string"}[expected] == lit.kind
        if not ok:
            quoted = "be enclosed" if expected == "string" else "not be enclosed"
            raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{name}' "
                            f"must be of type {expected} and should {quoted} in quotes")
        if ftype in ("id", "reference"):
            v = str(lit.value)
            return sf.full_id(v)
        if expected == "string":
            return str(lit.value).lower()
        return lit.value

    def _getter(self, sobject: str, f: sf.Field) -> Callable[[int, _Row], Any]:
        store = sf.store_of(self.ds, sobject)
        name, ftype = f[0], f[1]
        if name == "Id":
            prefix = sf.KEY_PREFIX[sobject]
            return lambda i, _row: sf.sf_id(prefix, i)
        if name == "IsDeleted":
            return lambda i, _row: store.is_archived(i)
        if name == "CreatedDate":
            return lambda i, _row: store.created_ms(i)
        if name == "LastModifiedDate":
            return lambda i, _row: store.modified_ms(i)
        if name == "SystemModstamp":
            return lambda i, _row: store.sf_modstamp(i)
        if ftype == "datetime":
            return lambda _i, row: None if (v := row.get(name)) is None else parse_datetime(v)
        if ftype in ("id", "reference"):
            return lambda _i, row: row.get(name)
        if ftype in _STRINGS:
            return lambda _i, row: None if (v := row.get(name)) is None else str(v).lower()
        return lambda _i, row: row.get(name)

    def _evaluate(self, plan: Plan, store: ObjectStore,
                  order: list[tuple[str, bool, bool | None]]) -> array:
        ds, sobject, residual = self.ds, plan.sobject, plan.residual
        hits: list[int] = []
        rows: dict[int, _Row] = {}
        i = store.next_index(plan.lo, plan.archived)
        while 0 <= i < plan.hi:
            row = _Row(ds, sobject, i)
            if residual is None or residual(i, row):
                hits.append(i)
                if order:
                    rows[i] = row
            i = store.next_index(i + 1, plan.archived)
        for name, desc, nulls_last in reversed(order):
            get = self._getter(sobject, self._field(sobject, name))
            # SOQL puts nulls first ascending and last descending unless told otherwise.
            big = (nulls_last is True and not desc) or (nulls_last is False and desc)

            def key(i: int, get: Callable[[int, _Row], Any] = get, big: bool = big
                    ) -> tuple[Any, ...]:
                v = get(i, rows.get(i) or _Row(ds, sobject, i))
                return ((2,) if big else (0,)) if v is None else (1, v)
            hits.sort(key=key, reverse=desc)
        return array("q", hits[plan.query.offset:])

    # -- paging ----------------------------------------------------------------------------
    def indices(self, plan: Plan, start: int, count: int) -> Iterator[int]:
        """Record indices of result rows ``start … start+count-1`` (0-based, after OFFSET)."""
        count = max(0, min(count, plan.total - start))
        if count == 0:
            return
        if plan.matches is not None:
            yield from plan.matches[start:start + count]
            return
        store = sf.store_of(self.ds, plan.sobject)
        off = plan.query.offset
        if plan.natural_desc:
            i = store.select(store.rank(plan.hi, plan.archived) - 1 - off - start, plan.archived)
            for _ in range(count):
                yield i
                i = store.prev_index(i, plan.archived)
        else:
            i = store.select(store.rank(plan.lo, plan.archived) + off + start, plan.archived)
            for _ in range(count):
                yield i
                i = store.next_index(i + 1, plan.archived)

    def row(self, plan: Plan, i: int, version: str) -> dict[str, Any]:
        """One record as a query returns it: ``attributes`` then the selected fields."""
        sobject = plan.sobject
        vals = sf.values(self.ds, sobject, i)
        out: dict[str, Any] = {"attributes": {
            "type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{vals['Id']}"}}
        for col, ref_field, subs in plan.columns:
            if ref_field is None:
                out[col] = vals[col]
                continue
            ref = vals[ref_field]
            target = next((t for t in sf.KEY_PREFIX if ref and sf.KEY_PREFIX[t] == ref[:3]),
                          None)
            idx = sf.id_index(ref[:3], ref) if ref else None
            if target is None or target not in sf.FIELDS or idx is None:
                out[col] = None
                continue
            tvals = sf.values(self.ds, target, idx)
            nested: dict[str, Any] = {"attributes": {
                "type": target, "url": f"/services/data/v{version}/sobjects/{target}/{ref}"}}
            for sub in subs:
                nested[sub] = tvals.get(sub)
            out[col] = nested
        return out


def _conjuncts(node: Any) -> list[Any]:
    if node is None:
        return []
    if node[0] == "and":
        return _conjuncts(node[1]) + _conjuncts(node[2])
    return [node]


def _join(nodes: list[Any]) -> Any:
    out = nodes[0]
    for n in nodes[1:]:
        out = ("and", out, n)
    return out
