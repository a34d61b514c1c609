"""Default policy files, shipped inside the package as ``vaultkeeper.default_policies``.

The *.toml files here are data: `vaultkeeper init` copies them into a new project, and
`vaultkeeper.policies` falls back to them when a project lacks one.
"""
