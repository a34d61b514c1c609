"""The child Python process the restic crash tests kill: vaultkeeper's Restic on a local
repository (``init``, ``backup`` or ``forget --prune``), exit 130 on KeyboardInterrupt.

Run as ``python -c CHILD REPO DATA WHAT`` with the password in ``VK_TEST_PW``."""

CHILD = r"""
import sys
from pathlib import Path
from vaultkeeper.config import Secret
from vaultkeeper.restic import Restic
from vaultkeeper.storage.locations import Location
repo, data, what = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
restic = Restic(Location("loc", "local", repo, url=repo), Secret("env", "VK_TEST_PW"))
try:
    if what == "init":
        restic.init()
    elif what == "backup":
        restic.backup(data)
    elif what == "forget":
        restic.forget_ids([s.id for s in restic.snapshots()][:-1], prune=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("done", flush=True)
"""
