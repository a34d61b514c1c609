"""Salesforce change feed: rows whose ``SystemModstamp`` moved since a moment (``queryAll``, so
rows deleted since then come too, ``IsDeleted = true``), and the deleted-record log
(``/sobjects/{name}/deleted/``) for rows purged from the recycle bin before we saw them, read
only when ``COUNT()`` with the deleted rows says some row vanished.

Relations are reference fields of the row itself, so a changed row carries its own. Objects a
full export reads through Bulk API 2.0 (``[source] bulk_threshold``) are read in full: Bulk
rows are CSV text, REST rows typed JSON, and a synthetic export must equal a full one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from vaultkeeper.connectors.changes import ChangeSet, Previous
from vaultkeeper.connectors.paginate import NextUrlPaginator
from vaultkeeper.errors import ConnectorError
from vaultkeeper.models import ObjectSpec

if TYPE_CHECKING:
    from vaultkeeper.connectors.salesforce import SalesforceConnector

LOG_DAYS = 15
"""The deleted-record log covers at most this many days."""


def soql_time(moment: datetime) -> str:
    """A SOQL datetime literal (UTC, seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SalesforceChanges:
    """The ChangeFeed of a SalesforceConnector (see connectors/changes.py)."""

    def __init__(self, conn: SalesforceConnector) -> None:
        self.conn = conn
        self.http = conn.http
        self.root = conn.root

    def supports(self, obj: ObjectSpec) -> bool:
        """Objects with ``SystemModstamp`` read through REST."""
        return self.conn.bulk_threshold is None and "SystemModstamp" in obj.properties

    def is_archived(self, record: dict[str, Any]) -> bool:
        """Salesforce marks deleted rows ``IsDeleted: true``."""
        return bool(record.get("IsDeleted"))

    def discover(self, reusable: Mapping[str, Any]) -> list[ObjectSpec]:
        """The org's objects, described afresh (a describe costs what a count would)."""
        return self.conn.discover()

    def changes(self, obj: ObjectSpec, since: datetime, previous: Previous) -> ChangeSet:
        """Rows modified or deleted since ``since`` with their references, and purged ids."""
        out = ChangeSet()
        references = self.conn._references(obj)
        for row in self._changed_rows(obj, since):
            out.records[str(row["Id"])] = row
            out.relations.extend(self.conn._relations(obj, row, references))
        out.count = self.conn.source_count(obj)
        known = previous.live | previous.archived | set(out.records)
        if out.count is not None and out.count.total is not None and \
                out.count.total >= len(known):
            deleted: set[str] = set()   # no row vanished: the deleted-record log is not needed
        else:
            deleted = self._deleted_ids(obj, since)
        out.removed = deleted - set(out.records)
        out.gone = deleted | {k for k, r in out.records.items() if r.get("IsDeleted")}
        out.notes.append(f"{len(out.records)} modified or deleted since {since.isoformat()}, "
                         f"{len(out.removed)} purged")
        return out

    def estimate(self, obj: ObjectSpec, since: datetime | None,
                 archived: int | None = None) -> int:
        """Requests: row pages per field slice, plus counts (and the deleted log)."""
        slices = len(self.conn._slices(obj))
        batch = int(self.conn.query_headers["Sforce-Query-Options"].split("=")[1])
        where = "" if since is None else f" WHERE SystemModstamp >= {soql_time(since)}"
        rows = self._count(obj, where)
        return slices * max(1, math.ceil(rows / batch)) + (2 if since is None else 4)

    def quota(self) -> tuple[int, int] | None:
        """``DailyApiRequests`` Max and Remaining from the limits resource."""
        body = self.http.get_json(f"{self.root}/limits")
        daily = body.get("DailyApiRequests") if isinstance(body, dict) else None
        if not isinstance(daily, dict):
            return None
        return int(daily.get("Max", 0)), int(daily.get("Remaining", 0))

    # -- reading -------------------------------------------------------------------------
    def _count(self, obj: ObjectSpec, where: str) -> int:
        # Names passed the connector's check in discover; ``where`` is built here.
        soql = quote_plus(f"SELECT COUNT() FROM {obj.vendor_name}{where}")  # noqa: S608
        return int(self.http.get_json(f"{self.root}/queryAll/?q={soql}")["totalSize"])

    def _changed_rows(self, obj: ObjectSpec, since: datetime) -> list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for index, fields in enumerate(self.conn._slices(obj)):
            rows = self._query(obj, fields, since)
            if index and set(rows) != set(merged):
                raise ConnectorError(f"{obj.name}: field slices of the changed rows differ "
                                     "(the data changed while reading)", "run again")
            for key, row in rows.items():
                if index == 0:
                    merged[key] = row
                else:
                    merged[key].update({k: v for k, v in row.items() if k != "attributes"})
        return [merged[k] for k in sorted(merged)]

    def _query(self, obj: ObjectSpec, fields: list[str],
               since: datetime) -> dict[str, dict[str, Any]]:
        # Object and field names passed the connector's name check in discover.
        soql = (f"SELECT {', '.join(fields)} FROM {obj.vendor_name} "  # noqa: S608
                f"WHERE SystemModstamp >= {soql_time(since)} ORDER BY Id")
        url = f"{self.http.base_url}{self.root}/queryAll/?q={quote_plus(soql)}"
        rows: dict[str, dict[str, Any]] = {}
        paginator = NextUrlPaginator()
        while True:
            body = self.http.get_json(url, headers=self.conn.query_headers)
            records = body.get("records")
            if not isinstance(records, list):
                raise ConnectorError(f"Salesforce page without records for {obj.name}")
            for row in records:
                if not isinstance(row, dict) or not row.get("Id"):
                    raise ConnectorError(f"{obj.name}: a malformed changed row")
                rows[str(row["Id"])] = row
            paginator.advance(body, len(records))
            if paginator.finished:
                return rows
            url = str(paginator.current)

    def _deleted_ids(self, obj: ObjectSpec, since: datetime) -> set[str]:
        # The log's times are cut to the second (whole minutes on some orgs): ask up to a
        # minute ahead so a deletion in this very second is in it.
        end = datetime.now(UTC) + timedelta(minutes=1)
        if (end - since).days >= LOG_DAYS:
            raise ConnectorError(f"{obj.name}: the deleted-record log covers {LOG_DAYS} days, "
                                 f"the last export is older", "a full export follows")
        body = self.http.get_json(
            f"{self.root}/sobjects/{obj.vendor_name}/deleted/",
            params={"start": soql_time(since), "end": soql_time(end)})
        return {str(r["id"]) for r in body.get("deletedRecords", []) if r.get("id")}
