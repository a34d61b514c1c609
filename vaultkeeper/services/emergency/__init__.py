"""The emergency exit: a ready-to-migrate package built from an export (see docs/emergency.md)."""

from vaultkeeper.services.emergency.package import (
    BuildObserver,
    PackageResult,
    Provenance,
    build_package,
)

__all__ = ["BuildObserver", "PackageResult", "Provenance", "build_package"]
