"""Escrow: trustee shares of the repository password, the escrow restic key, and deposits.

Modules: ``shares`` (password ↔ SLIP-39 secret encodings; split, check, combine), ``sheets``
(the trustee sheets), ``key`` (the escrow key on every location), ``repository`` (the escrow
repository's location, password and kit file names), ``deposit`` (copy the latest verified
snapshot and write a signed kit; staleness), ``verify`` (three levels), ``release`` (restore
the deposit and build the emergency package).

The escrow repository is an ordinary restic repository opened by two keys: the organisation's
(``[repository] password``: it creates the repository and copies snapshots into it) and the
escrow key (``[escrow] escrow_password``: the agent's). The kit holds no CRM data: the
vaultkeeper wheel, the restic version, RESTORE.md, policies and mapping docs, the last drill
report, and ``inventory.json`` (SHA-256 of every file, release conditions, snapshot id, date)
signed with the organisation's Ed25519 key.

The package imports nothing itself, so importing one module does not load the others.
"""
