"""Backup locations by URL scheme: parse, redact, restic environment, preflight."""
