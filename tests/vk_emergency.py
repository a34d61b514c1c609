"""Constants shared by the emergency tests (tests/ is on sys.path; tests/emergency is not)."""

RECORDS = 1500
SEED = 3   # the seed tests/vk_backup.make_config writes
