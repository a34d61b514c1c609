"""Import targets for `emergency rehearse` (adapters: a Tryton JSON-RPC client)."""
