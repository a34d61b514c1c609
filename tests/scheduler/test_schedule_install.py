"""`vaultkeeper schedule install`: systemd units and crontab lines that call back into us."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys

import pytest
from vk_backup import FAKE_SECRET, make_config, vk

SCHEDULE = '[schedule]\nbackup = "every day at 02:00"\ncheck = "every sunday at 04:00"\n'


def _unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_systemd_daemon_unit(tmp_path):
    config = make_config(tmp_path, extra=SCHEDULE)
    out = tmp_path / "units"
    (tmp_path / "vk.env").write_text("HTTPS_PROXY=http://proxy.invalid:3128\n")
    (tmp_path / "vk.env").chmod(0o600)
    result = vk(config, "schedule", "install", "--systemd", "--out", str(out),
                "--env-file", str(tmp_path / "vk.env"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["vaultkeeper.service"]
    unit = _unit(out / "vaultkeeper.service")
    assert unit["Service"]["ExecStart"] == (f"{sys.executable} -m vaultkeeper --config "
                                            f"{config} run")
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Service"]["EnvironmentFile"] == str(tmp_path / "vk.env")
    assert "systemctl --user daemon-reload" in result.stderr
    assert FAKE_SECRET not in (out / "vaultkeeper.service").read_text()


def test_systemd_timers_per_job_and_the_command_they_run_works(tmp_path):
    config = make_config(tmp_path, extra=SCHEDULE, records=50)
    out = tmp_path / "units"
    result = vk(config, "schedule", "install", "--systemd", "--jobs", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "vaultkeeper-backup.service", "vaultkeeper-backup.timer",
        "vaultkeeper-check.service", "vaultkeeper-check.timer"]
    timer = _unit(out / "vaultkeeper-backup.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:00:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert _unit(out / "vaultkeeper-check.timer")["Timer"]["OnCalendar"] == "Sun *-*-* 04:00:00"
    service = _unit(out / "vaultkeeper-backup.service")
    assert service["Service"]["Type"] == "oneshot"
    # The unit's command is real: run it (after creating the repositories) and it backs up.
    assert vk(config, "locations", "init").returncode == 0
    argv = service["Service"]["ExecStart"].split()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "backup: ok" in done.stderr
    if shutil.which("systemd-analyze"):   # systemd's own linter, where systemd is installed
        check = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                *map(str, sorted(out.iterdir()))], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr


def test_crontab_lines(tmp_path):
    config = make_config(tmp_path, extra=SCHEDULE + 'drill = "every 15 minutes"\n')
    result = vk(config, "schedule", "install", "--cron")
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln and not ln.startswith(("#", "SHELL"))]
    assert [ln.split(" -m ")[0].rsplit(" ", 1)[0] for ln in lines] == [
        "0 2 * * *", "*/15 * * * *", "0 4 * * 0"]
    assert lines[0].split("  #")[0].endswith(f"--config {config} run --job backup")
    target = tmp_path / "vk.cron"
    assert vk(config, "schedule", "install", "--cron", "--out", str(target)).returncode == 0
    assert target.read_text() == result.stdout


@pytest.mark.parametrize(("phrase", "flag"), [("every 7 minutes", "--cron"),
                                              ("every 5 hours", "--systemd")])
def test_untranslatable_phrases_are_refused_with_the_reason(tmp_path, phrase, flag):
    config = make_config(tmp_path, extra=f'[schedule]\nbackup = "{phrase}"\n')
    result = vk(config, "schedule", "install", flag, "--jobs" if flag == "--systemd" else
                "--cron", "--out", str(tmp_path / "x"))
    assert result.returncode == 5
    assert f'"{phrase}" cannot be expressed exactly' in result.stderr
    assert "vaultkeeper run" in result.stderr


def test_one_of_systemd_or_cron(tmp_path):
    config = make_config(tmp_path)
    result = vk(config, "schedule", "install")
    assert result.returncode == 2 and "choose one of --systemd or --cron" in result.stderr


def test_install_refuses_secrets_the_job_will_not_see(tmp_path, monkeypatch):
    """`{ env = … }` works in this shell but not under systemd/cron: refuse at set-up (exit 5)
    unless an --env-file defines the variable; the file must exist and be private."""
    config = make_config(tmp_path, extra=SCHEDULE)
    key = tmp_path / "secrets" / "repository.key"
    config.write_text(config.read_text().replace(f'password = {{ file = "{key}" }}',
                                                 'password = { env = "VK_REPO_PASSWORD" }'))
    env = {"VK_REPO_PASSWORD": FAKE_SECRET}
    out = tmp_path / "units"
    for flags in (["--systemd", "--out", str(out)], ["--cron"]):
        refused = vk(config, "schedule", "install", *flags, env=env)
        assert refused.returncode == 5, refused.stderr
        assert "VK_REPO_PASSWORD" in refused.stderr and "--env-file" in refused.stderr
        assert FAKE_SECRET not in refused.stderr + refused.stdout
    assert not out.exists(), "nothing written when refused"
    env_file = tmp_path / "vk.env"
    env_file.write_text(f"# the nightly job's secrets\nVK_REPO_PASSWORD={FAKE_SECRET}\n")
    env_file.chmod(0o644)
    loose = vk(config, "schedule", "install", "--cron", "--env-file", str(env_file), env=env)
    assert loose.returncode == 5 and "chmod 600" in loose.stderr
    env_file.chmod(0o600)
    ok = vk(config, "schedule", "install", "--systemd", "--out", str(out), "--env-file",
            str(env_file), env=env)
    assert ok.returncode == 0, ok.stderr
    assert FAKE_SECRET not in (out / "vaultkeeper.service").read_text()
    missing = vk(config, "schedule", "install", "--cron", "--env-file",
                 str(tmp_path / "nope.env"), env=env)
    assert missing.returncode == 5 and "does not exist" in missing.stderr
