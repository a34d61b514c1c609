"""Regenerate the pictures in docs/img/ from a real run: a sandbox backed up into a local
location, drilled, checked, and the mirror served — each page rendered by headless Chromium.

    .venv/bin/python scripts/screenshots.py            # writes docs/img/{drill-report,
                                                        # processes-report,mirror-person}.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def vk(config: Path, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        sys.exit(f"vaultkeeper {' '.join(args)} failed ({done.returncode}): {done.stderr}")


def shoot(url: str, png: Path, height: int = 900) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is missing: run scripts/setup.sh")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=1", f"--window-size=1100,{height}",
                    f"--screenshot={png}", url], capture_output=True, check=True, timeout=120)
    print(f"wrote {png.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vk-shots-") as tmp:
        root = Path(tmp)
        key = root / "repository.key"
        key.write_text("screenshots-only-not-a-secret\n")
        key.chmod(0o600)
        config = root / "vaultkeeper.toml"
        config.write_text(f'[source]\nconnector = "sandbox"\nrecords = 500\nseed = 42\n\n'
                          f'[repository]\npassword = {{ file = "{key}" }}\n\n'
                          f'[[locations]]\nname = "office-nas"\nurl = "{root / "nas"}"\n')
        vk(config, "locations", "init")
        vk(config, "backup")
        vk(config, "drill", "--html", str(root / "drill.html"))
        vk(config, "processes", "check", "--html", str(root / "processes.html"), ok=(0, 4))
        shoot((root / "drill.html").as_uri(), args.out / "drill-report.png", 1100)
        shoot((root / "processes.html").as_uri(), args.out / "processes-report.png", 700)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                                   "mirror", "serve", "--port", str(port)],
                                  env=dict(os.environ, TMPDIR=tmp))
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/-/versions.json", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            mirror = root / ".vaultkeeper" / "mirror" / "mirror.db"
            with sqlite3.connect(mirror) as db:
                person = db.execute(
                    "select c.id from contacts c join rel_notes__contacts n on n.to_id = c.id "
                    "where c._archived = 0 and c.membership_number is not null "
                    "group by c.id order by count(*) desc limit 1").fetchone()[0]
            shoot(f"{base}/staff/person/{person}", args.out / "mirror-person.png", 1000)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
