"""A small JSON-RPC client for a Tryton server (``/<db>/rpc/``), as the Tryton client talks."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import orjson

from vaultkeeper.errors import AuthError, ConnectorError


def encode(value: Any) -> Any:
    """Python values → Tryton's JSON (dates and decimals as ``__class__`` objects)."""
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        raise TypeError("datetimes are not sent by the importer")
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month,
                "day": value.day}
    return value


def decode(value: Any) -> Any:
    """Tryton's JSON → plain text-friendly values (dates ISO, decimals as Decimal)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        cls = value.get("__class__")
        if cls == "Decimal":
            return Decimal(value["decimal"])
        if cls == "date":
            return dt.date(value["year"], value["month"], value["day"]).isoformat()
        if cls in ("datetime", "time", "timedelta", "bytes"):
            return str({k: v for k, v in value.items() if k != "__class__"})
        return {k: decode(v) for k, v in value.items()}
    return value


class TrytonRpc:
    """One logged-in session on one Tryton database."""

    def __init__(self, url: str, database: str, *, timeout: float = 120.0) -> None:
        self.url = f"{url.rstrip('/')}/{database}/rpc/"
        self.database = database
        self._http = httpx.Client(timeout=timeout)
        self._auth: str | None = None
        self.context: dict[str, Any] = {}
        self._id = 0

    def close(self) -> None:
        """Close the HTTP connection."""
        self._http.close()

    def _post(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        headers = {"Content-Type": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        body = orjson.dumps({"id": self._id, "method": method, "params": encode(params)})
        try:
            resp = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ConnectorError(f"Tryton at {self.url} did not answer ({exc})",
                                 "check the URL and that trytond is running") from None
        if resp.status_code in (401, 403):
            raise AuthError(f"Tryton refused the login on database {self.database!r} "
                            f"(HTTP {resp.status_code})",
                            "check the user and the password reference of the target")
        if resp.status_code == 404:
            raise ConnectorError(f"Tryton has no database {self.database!r} at {self.url}",
                                 "check the database name in the target URL")
        if resp.status_code >= 400:
            raise ConnectorError(f"Tryton answered HTTP {resp.status_code} to {method}",
                                 "see the trytond log")
        data = orjson.loads(resp.content)
        if data.get("error"):
            err = data["error"]
            text = err[0] if isinstance(err, list) and err else str(err)
            detail = err[1] if isinstance(err, list) and len(err) > 1 else ""
            raise ConnectorError(f"Tryton refused {method}: {text} {detail}".strip()[:300],
                                 "see the trytond log; the mapping may send a value the "
                                 "model refuses")
        return decode(data.get("result"))

    def login(self, user: str, password: str) -> None:
        """``common.db.login`` and the user's preferences as the context."""
        result = self._post("common.db.login", [user, {"password": password}])
        if not result:
            raise AuthError(f"Tryton refused the login of {user!r}",
                            "check the user and the password reference of the target")
        uid, session = result[0], result[1]
        token = base64.b64encode(f"{user}:{uid}:{session}".encode()).decode()
        self._auth = f"Session {token}"
        self.context = self._post("model.res.user.get_preferences", [True, {}])

    def call(self, model: str, method: str, *args: Any) -> Any:
        """``model.<model>.<method>(*args, context)``."""
        return self._post(f"model.{model}.{method}", [*args, self.context])

    def create(self, model: str, values: list[dict[str, Any]]) -> list[int]:
        """Create records; their new ids in order."""
        if not values:
            return []
        return list(self.call(model, "create", values))

    def search_read(self, model: str, domain: list[Any], fields: list[str], *,
                    batch: int = 1000) -> list[dict[str, Any]]:
        """Every matching record (paged by ``batch``) with the named fields."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call(model, "search_read", domain, offset, batch, [["id", "ASC"]],
                             fields)
            out.extend(page)
            if len(page) < batch:
                return out
            offset += batch
