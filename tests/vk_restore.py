"""Helpers for restore scenarios: a sandbox CRM over HTTPS, a real restic backup of it,
a verified drill;
then the live sandbox is damaged and `vaultkeeper restore` (the real CLI, in a subprocess)
puts the data back.

The sandbox's data is a pure function of (records, seed), so one backup per vendor serves
every test: each test copies the backed-up tree and starts a fresh sandbox with the same seed
(the same CRM, as it was at backup time).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from vk_backup import make_config, vk, vk_json

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.sandbox import FaultConfig, Sandbox

RECORDS = 600
SEED = 3
TOKEN_ENV = "VK_RESTORE_TEST_TOKEN"
OBJECTS = {"hubspot": ["contacts", "companies", "deals", "notes"],
           "salesforce": ["Account", "Contact", "Opportunity", "Task"]}
CONTACTS = {"hubspot": "contacts", "salesforce": "Contact"}
PHONE = {"hubspot": "phone", "salesforce": "Phone"}


def source_block(vendor: str, sb: Sandbox, section: str = "[source]") -> str:
    """A [source]-shaped table pointing at a running sandbox (token by env reference)."""
    objects = ", ".join(f'"{o}"' for o in OBJECTS[vendor])
    return (f'{section}\nconnector = "{vendor}"\nbase_url = "{sb.url}"\n'
            f'token = {{ env = "{TOKEN_ENV}" }}\nca_file = "{sb.ca_file}"\n'
            f"objects = [{objects}]\nmax_retries = 12\n\n")


def write_config(root: Path, vendor: str, sb: Sandbox, second: Sandbox | None = None) -> Path:
    """vaultkeeper.toml for ``root`` (locations under root/loc) reading ``sb``."""
    config = make_config(root, locations=[("nas", str(root / "loc" / "nas"))])
    text = config.read_text(encoding="utf-8")
    body = text.split("[repository]", 1)[1]
    text = source_block(vendor, sb) + "[repository]" + body
    if second is not None:
        text += "\n" + source_block(vendor, second, "[targets.second]")
    config.write_text(text, encoding="utf-8")
    return config


ENV = {TOKEN_ENV: "sandbox-token"}


def run(config: Path, *args: str, **kw: object):  # type: ignore[no-untyped-def]
    """The real CLI with the sandbox token in the environment."""
    return vk(config, *args, env=ENV, **kw)  # type: ignore[arg-type]


def run_json(config: Path, *args: str, ok: tuple[int, ...] = (0,)) -> dict:
    """The real CLI with --json, parsed (exactly one object)."""
    return vk_json(config, *args, ok=ok, env=ENV)


@dataclass
class World:
    """One test's CRM, configuration and snapshot."""

    vendor: str
    root: Path
    config: Path
    sandbox: Sandbox
    writer: CrmWriter
    snapshot_id: str

    @property
    def contacts(self) -> str:
        return CONTACTS[self.vendor]


_TEMPLATES: dict[tuple[str, bool], tuple[Path, str]] = {}


def _fix_emails(vendor: str, sb: Sandbox) -> None:
    """Give every contact whose e-mail the CRM would refuse on insert a valid one (a CRM
    whose data can be re-imported as it is)."""
    import re

    import orjson

    from vaultkeeper.connectors.hubspot import HubSpotConnector
    from vaultkeeper.connectors.salesforce import SalesforceConnector
    from vaultkeeper.connectors.writer import RecordUpdate
    from vaultkeeper.models import Record

    good = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    cls = HubSpotConnector if vendor == "hubspot" else SalesforceConnector
    name, field = CONTACTS[vendor], ("email" if vendor == "hubspot" else "Email")
    fixes = []
    with cls(sb.url, sb.token, ca_file=sb.ca_file, objects=[name]) as conn:
        spec = next(s for s in conn.discover() if s.name == name)
        for item in conn.read(spec):
            if isinstance(item, Record) and not item.archived:
                data = orjson.loads(orjson.dumps(item.data))
                props = data.get("properties", data)
                value = props.get(field)
                if value and not good.fullmatch(str(value)):
                    rid = str(data.get("id") or data.get("Id"))
                    fixes.append(RecordUpdate(rid, {field: f"fixed.{rid}@example.org"}))
    writer = make_writer(vendor, sb.url, sb.token, ca_file=sb.ca_file)
    try:
        assert writer.update(name, fixes).ok
    finally:
        writer.close()


def _template(vendor: str, factory: pytest.TempPathFactory,
              clean: bool = False) -> tuple[Path, str]:
    if (vendor, clean) not in _TEMPLATES:
        root = factory.mktemp(f"restore-{vendor}")
        with Sandbox(records=RECORDS, seed=SEED) as sb:
            if clean:
                _fix_emails(vendor, sb)
            config = write_config(root, vendor, sb)
            assert run(config, "locations", "init").returncode == 0
            backup = run_json(config, "backup")
            assert backup["status"] == "ok", backup
            drill = run_json(config, "drill")
            assert drill["result"] == "verified", drill
        _TEMPLATES[(vendor, clean)] = (root, backup["snapshot_id"])
    return _TEMPLATES[(vendor, clean)]


def make_world(vendor: str, factory: pytest.TempPathFactory, tmp_path: Path,
               faults: str = "none", second: Sandbox | None = None,
               clean: bool = False) -> World:
    """A copy of the vendor's backed-up tree and a fresh sandbox as it was at backup time
    (``clean``: a CRM whose e-mails were all valid when it was backed up)."""
    template, snapshot_id = _template(vendor, factory, clean)
    root = tmp_path / "w"
    shutil.copytree(template, root, symlinks=True)
    sb = Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse(faults)).start()
    config = write_config(root, vendor, sb, second)
    writer = make_writer(vendor, sb.url, sb.token, ca_file=sb.ca_file)
    return World(vendor, root, config, sb, writer, snapshot_id)


def empty_target(vendor: str, faults: str = "none") -> Sandbox:
    """A second, empty CRM (a test portal / sandbox org) to restore into."""
    return Sandbox(records=0, seed=SEED + 1, faults=FaultConfig.parse(faults)).start()
