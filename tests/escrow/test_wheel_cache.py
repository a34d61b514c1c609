"""The escrow kit's vaultkeeper wheel is built once per source tree: a deposit of an unchanged
tree copies the cached wheel instead of running pip's isolated build again (minutes each time
on a loaded machine, the crash harness's slowest step); any change to a file of the package
gives a new digest, so a stale wheel is never deposited."""

from __future__ import annotations

import shutil
from pathlib import Path

from vaultkeeper import pyenv


def _tree(root: Path) -> Path:
    (root / "vaultkeeper" / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'vaultkeeper'\n")
    (root / "README.md").write_text("readme\n")
    (root / "vaultkeeper" / "__init__.py").write_text("x = 1\n")
    (root / "vaultkeeper" / "sub" / "mod.py").write_text("y = 2\n")
    return root


def test_the_digest_follows_every_wheel_input_and_ignores_byte_code(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src")
    first = pyenv.source_digest(root)
    assert pyenv.source_digest(root) == first
    (root / "vaultkeeper" / "__pycache__").mkdir()
    (root / "vaultkeeper" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0\1")
    assert pyenv.source_digest(root) == first
    (root / "vaultkeeper" / "sub" / "mod.py").write_text("y = 3\n")
    changed = pyenv.source_digest(root)
    assert changed != first
    (root / "README.md").write_text("other readme\n")
    assert pyenv.source_digest(root) not in (first, changed)
    (root / "vaultkeeper" / "sub" / "new.py").write_text("")
    assert pyenv.source_digest(root) not in (first, changed)


def test_a_cached_wheel_of_the_same_source_is_copied_without_building(tmp_path: Path) -> None:
    root = pyenv.project_root()
    assert root is not None     # the tests run from the source tree
    cache = tmp_path / "cache"
    entry = cache / pyenv.source_digest(root)
    entry.mkdir(parents=True)
    wheel = entry / "vaultkeeper-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"the cached wheel")
    (cache / ("0" * 64)).mkdir()   # another tree's entry: left alone on a hit
    out = tmp_path / "kit" / "wheel"
    got = pyenv.build_wheel(out, cache=cache)
    assert got == out / wheel.name
    assert got.read_bytes() == b"the cached wheel"


def test_a_built_wheel_is_stored_and_other_trees_entries_dropped(tmp_path: Path) -> None:
    built = tmp_path / "built" / "vaultkeeper-0.1.0-py3-none-any.whl"
    built.parent.mkdir()
    built.write_bytes(b"fresh")
    cache = tmp_path / "cache"
    (cache / ("0" * 64)).mkdir(parents=True)
    pyenv._remember_wheel(cache, "a" * 64, built)
    assert (cache / ("a" * 64) / built.name).read_bytes() == b"fresh"
    assert not (cache / ("0" * 64)).exists()
    assert (cache.stat().st_mode & 0o777) == 0o700
    # a second store of the same key (another deposit was first) keeps the first copy
    pyenv._remember_wheel(cache, "a" * 64, built)
    assert sorted(p.name for p in cache.iterdir()) == ["a" * 64]
    shutil.rmtree(cache)
