"""HubSpot CRM search (``POST /crm/v3/objects/{type}/search``): filters, sorts, 10k window."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import orjson

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.sandbox.gen_hubspot import Props, properties_of
from vaultkeeper.sandbox.hs_meta import error
from vaultkeeper.sandbox.hs_write import all_types
from vaultkeeper.sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi

MAX_WINDOW = 10_000
MAX_PAGE = 200
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
_QUERY_PROPS = {"contacts": ("firstname", "lastname", "email", "phone", "company"),
                "companies": ("name", "domain", "website", "phone"),
                "deals": ("dealname",), "notes": ("hs_note_body",)}
_NUMERIC = ("number", "date", "datetime")


class SearchError(ValueError):
    """A search request HubSpot would reject with 400 VALIDATION_ERROR."""


class _Lazy:
    """A record whose properties are generated only if a filter needs a slow field."""

    __slots__ = ("ds", "i", "obj", "props")

    def __init__(self, ds: Dataset, obj: str, i: int) -> None:
        self.ds, self.obj, self.i = ds, obj, i
        self.props: Props | None = None

    def get(self, name: str) -> str | None:
        if self.props is None:
            self.props = properties_of(self.ds, self.obj, self.i)
        return self.props.get(name)


def to_ms(value: Any) -> float:
    """A filter value for a date/datetime property: epoch ms (number or string) or ISO."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(int(text))
    except ValueError:
        pass
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            return float(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp() * 1000
    except ValueError:
        raise SearchError(f"'{value}' is not a valid date; use epoch milliseconds or ISO 8601") \
            from None


class SearchEngine:
    """Evaluates searches and caches their first 10,000 hits for paging."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self._cache: OrderedDict[bytes, tuple[list[int], int]] = OrderedDict()
        self._lock = threading.Lock()

    def handle(self, api: HubSpotApi, req: Request, obj: str) -> Response:
        """Answer one search request (errors → 400 HubSpot body)."""
        body = api._json_body(req)
        try:
            limit = int(body.get("limit", 10) if body.get("limit") is not None else 10)
            raw_after = body.get("after")
            after = int(raw_after) if raw_after not in (None, "") else 0
        except (TypeError, ValueError):
            raise error(req, 400, "Invalid input JSON: 'limit' and 'after' must be integers",
                        "VALIDATION_ERROR") from None
        if not 0 <= limit <= MAX_PAGE:
            raise error(req, 400, f"limit must be between 0 and {MAX_PAGE}, got {limit}",
                        "VALIDATION_ERROR")
        if after < 0:
            raise error(req, 400, "after must be >= 0", "VALIDATION_ERROR")
        if after + limit > MAX_WINDOW:
            # The documented behaviour: paging beyond 10,000 results is a 400.
            raise error(req, 400, f"Cannot page beyond {MAX_WINDOW} results: after ({after}) + "
                        f"limit ({limit}) exceeds the maximum. Narrow the search with filters.",
                        "VALIDATION_ERROR", context={"after": [str(after)]})
        try:
            hits, total = self.run(obj, body.get("filterGroups") or [], body.get("sorts") or [],
                                   body.get("query"))
        except SearchError as exc:
            raise error(req, 400, str(exc), "VALIDATION_ERROR") from None
        if req.decision.short and limit > 1:
            limit = (limit + 1) // 2
            req.faults.count("fault.short")
        page = hits[after:after + limit]
        props = body.get("properties") or []
        sel = api.selection(obj, [str(p) for p in props] if isinstance(props, list) else [])
        out: dict[str, Any] = {"total": total, "results": [api.record(obj, i, sel) for i in page]}
        if after + len(page) < total and page:
            out["paging"] = {"next": {"after": str(after + len(page))}}
        return json_response(200, out)

    def run(self, obj: str, groups: Any, sorts: Any, query: Any) -> tuple[list[int], int]:
        """(first 10,000 matching live indices in result order, total matches)."""
        key = orjson.dumps([obj, groups, sorts, query, self.ds.version],
                           option=orjson.OPT_SORT_KEYS)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        result = self._evaluate(obj, groups, sorts, query)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return result

    # -- evaluation ------------------------------------------------------------------------
    def _evaluate(self, obj: str, groups: Any, sorts: Any,
                  query: Any) -> tuple[list[int], int]:
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise SearchError("filterGroups must be a list of {\"filters\": [...]}")
        if len(groups) > 5:
            raise SearchError("Too many filter groups: at most 5 are allowed")
        compiled: list[list[Callable[[int, _Lazy], bool]]] = []
        total_filters = 0
        for g in groups:
            filters = g.get("filters") or []
            if len(filters) > 10:
                raise SearchError("Too many filters in a group: at most 10 are allowed")
            total_filters += len(filters)
            compiled.append([self._compile(obj, f) for f in filters])
        if total_filters > 25:
            raise SearchError("Too many filters: at most 25 are allowed in total")
        sort_name, descending = self._sort(obj, sorts)
        store = self.ds.stores[obj]
        lo, hi = self._id_range(obj, groups)
        tokens = [t.lower() for t in str(query).split()] if query else []
        simple = not compiled and not tokens
        if simple and sort_name == "hs_object_id":
            total = store.rank(hi, False) - store.rank(lo, False)
            hits: list[int] = []
            if descending:
                i = store.prev_index(hi, False)
                while i >= lo and len(hits) < MAX_WINDOW:
                    hits.append(i)
                    i = store.prev_index(i, False)
            else:
                i = store.next_index(lo, False)
                while 0 <= i < hi and len(hits) < MAX_WINDOW:
                    hits.append(i)
                    i = store.next_index(i + 1, False)
            return hits, total
        query_props = _QUERY_PROPS.get(obj, ())
        flags, ds = store.flags, self.ds
        matches: list[int] = []
        for i in range(lo, hi):
            if flags[i]:
                continue  # search never returns archived records
            lazy = _Lazy(ds, obj, i)
            if compiled and not any(all(f(i, lazy) for f in grp) for grp in compiled):
                continue
            if tokens:
                text = " ".join((lazy.get(p) or "") for p in query_props).lower()
                if not all(t in text for t in tokens):
                    continue
            matches.append(i)
        if sort_name != "hs_object_id":
            getter = self._getter(obj, sort_name)
            ptype = hs.property_types(obj)[sort_name]
            # Records without a value sort last in either direction, like HubSpot.
            present = [(v, i) for i in matches
                       if (v := self._sort_value(getter(i, _Lazy(ds, obj, i)), ptype)) is not None]
            with_value = {i for _, i in present}
            absent = [i for i in matches if i not in with_value]
            present.sort(reverse=descending)
            matches = [i for _, i in present] + absent
        elif descending:
            matches.reverse()
        return matches[:MAX_WINDOW], len(matches)

    @staticmethod
    def _sort_value(value: Any, ptype: str) -> Any:
        if value is None or value == "":
            return None
        if ptype in _NUMERIC:
            try:
                return to_ms(value) if ptype != "number" else float(value)
            except (SearchError, ValueError):
                return None
        return str(value).lower()

    def _sort(self, obj: str, sorts: Any) -> tuple[str, bool]:
        if not sorts:
            return "hs_object_id", False
        if not isinstance(sorts, list):
            raise SearchError("sorts must be a list")
        first = sorts[0]
        if isinstance(first, str):
            name, desc = first.lstrip("-"), first.startswith("-")
        elif isinstance(first, dict):
            name = str(first.get("propertyName", ""))
            desc = str(first.get("direction", "ASCENDING")).upper().startswith("DESC")
        else:
            raise SearchError("each sort must be a property name or {propertyName, direction}")
        if name == "id":
            name = "hs_object_id"
        if name not in hs.property_types(obj):
            raise SearchError(f"Unable to sort by unknown property '{name}'")
        return name, desc

    def _id_range(self, obj: str, groups: list[dict[str, Any]]) -> tuple[int, int]:
        """Prune the scan with hs_object_id bounds when there is a single filter group."""
        count = self.ds.stores[obj].count
        lo, hi = 0, count
        if len(groups) != 1:
            return lo, hi
        base = hs.ID_BASES[obj]
        for f in groups[0].get("filters") or []:
            if f.get("propertyName") != "hs_object_id":
                continue
            op = str(f.get("operator", "")).upper()
            try:
                v = int(float(f.get("value", 0))) - base
                hv = int(float(f.get("highValue", 0))) - base
            except (TypeError, ValueError):
                continue
            if op in ("GT", "GTE", "EQ", "BETWEEN"):
                lo = max(lo, v + (op == "GT"))
            if op in ("LT", "LTE", "EQ"):
                hi = min(hi, v + (op != "LT"))
            if op == "BETWEEN":
                hi = min(hi, hv + 1)
        return max(0, lo), max(max(0, lo), min(hi, count))

    def _getter(self, obj: str, name: str) -> Callable[[int, _Lazy], Any]:
        store = self.ds.stores[obj]
        if name == "hs_object_id":
            base = hs.ID_BASES[obj]
            return lambda i, _lazy: float(base + i)
        if name == "createdate":
            return lambda i, _lazy: float(store.created_ms(i))
        if name == hs.modified_property(obj):
            return lambda i, _lazy: float(store.modified_ms(i))
        return lambda _i, lazy: lazy.get(name)

    def _compile(self, obj: str, f: Any) -> Callable[[int, _Lazy], bool]:
        if not isinstance(f, dict):
            raise SearchError("each filter must be an object")
        name = str(f.get("propertyName", ""))
        op = str(f.get("operator", "EQ")).upper()
        if op not in OPERATORS:
            raise SearchError(f"Unknown operator '{op}'; valid: {', '.join(OPERATORS)}")
        types = all_types(self.ds, obj)
        if name == "id":
            name = "hs_object_id"
        if name not in types:
            raise SearchError(f"Property '{name}' does not exist on {obj}")
        ptype = types[name]
        get = self._getter(obj, name)
        numeric = ptype in _NUMERIC

        def conv(value: Any) -> Any:
            if numeric:
                if ptype == "number":
                    try:
                        return float(value)
                    except (TypeError, ValueError):
                        raise SearchError(f"'{value}' is not a number") from None
                return to_ms(value)
            return str(value).lower()

        def actual(i: int, lazy: _Lazy) -> Any:
            v = get(i, lazy)
            if v is None or v == "":
                return None
            if isinstance(v, float):
                return v
            if numeric:
                try:
                    return float(v) if ptype == "number" else to_ms(v)
                except (SearchError, ValueError):
                    return None
            return v.lower()

        if op == "HAS_PROPERTY":
            return lambda i, lazy: actual(i, lazy) is not None
        if op == "NOT_HAS_PROPERTY":
            return lambda i, lazy: actual(i, lazy) is None
        if op in ("IN", "NOT_IN"):
            values = f.get("values")
            if not isinstance(values, list):
                raise SearchError(f"operator {op} needs 'values' (a list)")
            wanted = {conv(v) for v in values}
            if op == "IN":
                return lambda i, lazy: actual(i, lazy) in wanted
            return lambda i, lazy: actual(i, lazy) not in wanted
        if "value" not in f:
            raise SearchError(f"operator {op} needs 'value'")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(f["value"]).lower()
            if "*" not in pattern:
                pattern = f"*{pattern}*"
            negate = op.startswith("NOT")

            def token(i: int, lazy: _Lazy) -> bool:
                v = actual(i, lazy)
                hit = v is not None and fnmatchcase(str(v), pattern)
                return hit != negate
            return token
        target = conv(f["value"])
        if op == "EQ":
            return lambda i, lazy: actual(i, lazy) == target
        if op == "NEQ":
            return lambda i, lazy: actual(i, lazy) != target
        if op == "BETWEEN":
            if "highValue" not in f:
                raise SearchError("operator BETWEEN needs 'highValue'")
            high = conv(f["highValue"])

            def between(i: int, lazy: _Lazy) -> bool:
                v = actual(i, lazy)
                return v is not None and target <= v <= high
            return between
        cmp: dict[str, Callable[[Any, Any], bool]] = {
            "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}
        fn = cmp[op]

        def compare(i: int, lazy: _Lazy) -> bool:
            v = actual(i, lazy)
            return v is not None and fn(v, target)
        return compare
