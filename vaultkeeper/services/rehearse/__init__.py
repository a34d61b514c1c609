"""`vaultkeeper emergency rehearse`: import a package into an empty CRM, export, reconcile."""
