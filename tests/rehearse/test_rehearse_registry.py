"""Each vendor's rehearsal knowledge lives in its own module, registered on the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vaultkeeper import registry
from vaultkeeper.canonical import ENTITY_ORDER
from vaultkeeper.errors import ConfigError
from vaultkeeper.services.rehearse import targets, vendor

REHEARSE = Path(vendor.__file__).parent


def test_rehearse_service_names_no_vendor() -> None:
    """The rehearse service asks the registry: no vendor's name is quoted in its code."""
    names = "|".join(map(re.escape, registry.rehearsable()))
    quoted = re.compile("[\"'](" + names + ")[\"']")
    hits = [f"{p.name}:{n}" for p in sorted(REHEARSE.glob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1) if quoted.search(line)]
    assert registry.rehearsable() and hits == []


@pytest.mark.parametrize("name", registry.rehearsable())
def test_every_rehearsable_vendor_has_a_whole_record(name: str) -> None:
    """Each record maps every canonical entity to an object and every mapping entity exists."""
    record = registry.rehearsal(name)
    assert record.name == name
    assert set(record.objects) == set(ENTITY_ORDER) == set(record.mapping)
    assert record.text_home and name in targets.KINDS
    mapping = vendor.default_mapping(name)
    assert all(mapping[e]["legacy_id"] for e in ENTITY_ORDER)


def test_csv_imports_only_where_the_vendor_has_them() -> None:
    """Only a vendor whose record opens a CSV imports API takes ``--via import``."""
    with_imports = {n for n in registry.rehearsable() if registry.rehearsal(n).imports}
    assert all(registry.get(n).import_files for n in with_imports)   # the files it imports
    assert with_imports and with_imports != set(registry.rehearsable())


def test_unknown_vendor_is_a_config_error() -> None:
    """A source that cannot be a rehearsal target says so and names the ones that can."""
    with pytest.raises(ConfigError, match="cannot be a rehearsal target"):
        registry.rehearsal(registry.GENERIC)
