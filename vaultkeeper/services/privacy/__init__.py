"""Personal data: the erasure register (``forget``), suppression wherever data comes back,
age-out dates (``status``), the record of processing (``report``) and roles. See
docs/privacy.md."""
