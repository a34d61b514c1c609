"""vaultkeeper: keep your organisation able to walk away from its SaaS CRM."""

__version__ = "0.1.0"
