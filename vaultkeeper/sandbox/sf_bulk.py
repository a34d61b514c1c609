"""Salesforce Bulk API 2.0 query jobs: create, poll, results (CSV, ``Sforce-Locator`` paging),
abort, delete, list. Jobs run the same SOQL executor as the REST ``query`` resource.

A job is UploadComplete when created and JobComplete at its first status poll; with the
``bulk_fail`` fault the first N jobs go InProgress and then end Failed with an ``errorMessage``.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.faults import FaultConfig
from vaultkeeper.sandbox.sf_query import Executor, Plan
from vaultkeeper.sandbox.wire import ApiError, Request, Response, json_response

JSON_SF = "application/json;charset=UTF-8"
DEFAULT_MAX_RECORDS = 50_000
_STATES = ("UploadComplete", "InProgress", "JobComplete")


def _error(status: int, code: str, message: str) -> ApiError:
    return ApiError(json_response(status, [{"errorCode": code, "message": message}],
                                  content_type=JSON_SF))


@dataclass
class Job:
    """One query job."""

    id: str
    operation: str
    sobject: str
    plan: Plan
    version: str
    created: str
    fail: bool = False
    polls: int = 0
    state: str = "UploadComplete"
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """The job as ``GET …/jobs/query/{id}`` answers."""
        body: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.sobject,
            "createdById": sf.USER_IDS[0], "createdDate": self.created,
            "systemModstamp": self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "jobType": "V2Query", "lineEnding": "LF",
            "columnDelimiter": "COMMA"}
        if self.state == "JobComplete":
            body.update({"numberRecordsProcessed": self.plan.total, "retries": 0,
                         "totalProcessingTime": 250 + self.plan.total // 100})
        if self.state == "Failed":
            body.update({"numberRecordsProcessed": 0, "retries": 3,
                         "errorMessage": "InternalServerError : Failed to process query: "
                                         "QUERY_TIMEOUT, retried 3 times"})
        return body


def csv_value(value: Any) -> str:
    """A REST JSON value written the way Bulk API 2.0 CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") \
            and value[10] == "T":
        return value[:-5] + "Z"   # 2024-01-02T03:04:05.000+0000 → …000Z in Bulk results
    return str(value)


class BulkJobs:
    """The ``/services/data/vXX.X/jobs/query`` resource of one sandbox."""

    def __init__(self, executor: Executor, faults: FaultConfig) -> None:
        self.executor = executor
        self.faults = faults
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._made = 0

    def handle(self, req: Request, version: str, rest: list[str]) -> Response:
        """Route ``jobs/query[/{id}[/results]]``; ``rest`` starts after ``jobs``."""
        if not rest or rest[0] != "query":
            if rest and rest[0] == "ingest":
                raise _error(405, "METHOD_NOT_ALLOWED", "Bulk ingest jobs are not supported "
                             "by the vaultkeeper sandbox")
            raise _error(404, "NOT_FOUND", "The requested resource does not exist")
        if float(version) < 47.0:
            raise _error(404, "NOT_FOUND", "Bulk API 2.0 query jobs need API version 47.0 "
                         "or later")
        if len(rest) == 1:
            if req.method == "POST":
                return self._create(req, version)
            if req.method == "GET":
                jobs = [j.info() for j in self._jobs.values()]
                return json_response(200, {"done": True, "records": jobs,
                                           "nextRecordsUrl": None}, content_type=JSON_SF)
            raise _error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed")
        job = self._jobs.get(rest[1])
        if job is None:
            raise _error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 2:
            if req.method == "GET":
                return json_response(200, self._poll(job), content_type=JSON_SF)
            if req.method == "PATCH":
                return self._abort(req, job)
            if req.method == "DELETE":
                with self._lock:
                    self._jobs.pop(job.id, None)
                return Response(204, b"", "text/plain")
        if len(rest) == 3 and rest[2] == "results" and req.method == "GET":
            return self._results(req, job, version)
        raise _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _create(self, req: Request, version: str) -> Response:
        try:
            body = orjson.loads(req.body or b"{}")
        except orjson.JSONDecodeError:
            raise _error(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") \
                from None
        operation = body.get("operation") if isinstance(body, dict) else None
        if operation not in ("query", "queryAll"):
            raise _error(400, "INVALIDJOB", "operation must be query or queryAll")
        if body.get("contentType", "CSV") != "CSV":
            raise _error(400, "INVALIDJOB", "contentType must be CSV")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise _error(400, "INVALIDJOB", "A query string has to be specified")
        plan = self.executor.plan(text, operation == "queryAll")
        q = plan.query
        if q.count or q.count_field:
            raise _error(400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API "
                         "2.0 query")
        fmap = sf.field_map(plan.sobject)
        for col, ref_field, _ in plan.columns:
            f = fmap.get(col.lower())
            if ref_field is None and f is not None and f[1] in ("address", "location",
                                                                  "base64"):
                raise _error(400, "INVALID_FIELD", "FeatureNotEnabled : Selecting compound "
                             "data not supported in Bulk Query")
        with self._lock:
            self._made += 1
            n = self._made
            fail = self.faults.on("bulk_fail") and n <= self.faults.param("bulk_fail", "jobs")
            job_id = sf.full_id(f"7505g{n:010d}")
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            job = Job(job_id, operation, plan.sobject, plan, version, created, fail)
            self._jobs[job_id] = job
        if fail:
            req.faults.count("fault.bulk_fail")
        return json_response(200, job.info(), content_type=JSON_SF)

    def _poll(self, job: Job) -> dict[str, Any]:
        with self._lock:
            if job.state in _STATES[:-1]:
                job.polls += 1
                if not job.fail:
                    job.state = "JobComplete"
                else:
                    job.state = "Failed" if job.polls >= 2 else "InProgress"
        return job.info()

    def _abort(self, req: Request, job: Job) -> Response:
        try:
            body = orjson.loads(req.body or b"{}")
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise _error(400, "INVALIDJOBSTATE", "state must be Aborted")
        with self._lock:
            if job.state in ("JobComplete", "Failed"):
                raise _error(400, "INVALIDJOBSTATE", f"Job is already {job.state}")
            job.state = "Aborted"
        return json_response(200, job.info(), content_type=JSON_SF)

    def _results(self, req: Request, job: Job, version: str) -> Response:
        if version != job.version:
            raise _error(409, "INVALIDJOBSTATE", "Results must be retrieved with the API "
                         f"version the job was created with ({job.version})")
        if job.state != "JobComplete":
            raise _error(400, "INVALIDJOBSTATE", f"Job is in state {job.state}; results are "
                         "available once it is JobComplete")
        given = req.q1("locator") or ""
        try:
            start = int(base64.b64decode(given + "=" * (-len(given) % 4)).decode()) \
                if given else 0
            wanted = int(req.q1("maxRecords") or DEFAULT_MAX_RECORDS)
        except ValueError:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator or maxRecords") \
                from None
        if wanted < 1 or start < 0 or start > job.plan.total:
            raise _error(400, "INVALID_QUERY_LOCATOR", "invalid locator or maxRecords")
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        header: list[str] = []
        for col, ref_field, subs in job.plan.columns:
            header.extend([col] if ref_field is None else [f"{col}.{s}" for s in subs])
        writer.writerow(header)
        n = 0
        for i in self.executor.indices(job.plan, start, wanted):
            row = self.executor.row(job.plan, i, version)
            cells = []
            for col, ref_field, subs in job.plan.columns:
                if ref_field is None:
                    cells.append(csv_value(row[col]))
                else:
                    nested = row[col] or {}
                    cells.extend(csv_value(nested.get(s)) for s in subs)
            writer.writerow(cells)
            n += 1
        end = start + n
        locator = base64.b64encode(str(end).encode()).decode().rstrip("=") \
            if end < job.plan.total else "null"
        payload = out.getvalue().encode("utf-8")
        headers = [("Sforce-Locator", locator), ("Sforce-NumberOfRecords", str(n))]
        if "gzip" in (req.header("Accept-Encoding") or ""):
            payload = gzip.compress(payload, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        return Response(200, payload, "text/csv", headers)
