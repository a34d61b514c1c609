"""The emergency exit: a ready-to-migrate package built from an export (see docs/emergency.md)."""

from vaultkeeper.services.emergency.package import build_package
from vaultkeeper.services.emergency.result import BuildObserver, PackageResult, Provenance

__all__ = ["BuildObserver", "PackageResult", "Provenance", "build_package"]
