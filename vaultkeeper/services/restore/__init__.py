"""Putting records back into a CRM: selection, plan, journaled apply, verification, report
(``vaultkeeper restore``; ``drill --into-crm`` builds on it)."""

from vaultkeeper.services.restore.report import RestoreReport, render_html
from vaultkeeper.services.restore.run import RestoreOptions, run_restore

__all__ = ["RestoreOptions", "RestoreReport", "render_html", "run_restore"]
