"""Generate docs/img/risk-example.png: eighteen months of a CRM vendor sliding towards
insolvency, recorded and collected as a demo installation would, then `risk show --chart`.

Run: .venv/bin/python scripts/risk_example.py [OUT.png|OUT.svg]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-06-15"

# (signal, value, date, source, note)
STORY = [
    ("revenue", "5200000", "2022-12-31", "annual report 2022", ""),
    ("revenue", "5400000", "2023-12-31", "annual report 2023", ""),
    ("net_result", "310000", "2023-12-31", "annual report 2023", ""),
    ("equity", "2100000", "2023-12-31", "annual report 2023", ""),
    ("headcount", "140", "2024-01-10", "LinkedIn", ""),
    ("developer_count", "34", "2024-01-10", "LinkedIn, GitHub contributors", ""),
    ("support_response_time", "6", "2024-02-01", "our tickets", ""),
    ("release_cadence", "14", "2024-02-01", "releases.atom", "collected"),
    ("status_incidents", "1", "2024-03-01", "status page", "collected"),
    ("release_cadence", "21", "2024-06-01", "releases.atom", "collected"),
    ("headcount", "126", "2024-07-01", "LinkedIn", "first layoffs reported"),
    ("developer_count", "27", "2024-07-01", "LinkedIn, GitHub contributors", ""),
    ("status_incidents", "3", "2024-09-01", "status page", "collected"),
    ("support_response_time", "30", "2024-10-01", "our tickets", ""),
    ("release_cadence", "45", "2024-11-01", "releases.atom", "collected"),
    ("developer_count", "19", "2025-01-15", "LinkedIn, GitHub contributors", ""),
    ("headcount", "101", "2025-01-15", "LinkedIn", ""),
    ("export_error_rate", "0.1", "2025-02-01", "export health", "collected"),
    ("database_copy_delivered", "no", "2025-03-01", "account manager",
     "asked for a full database copy; no answer after two reminders"),
    ("revenue", "4100000", "2024-12-31", "annual report 2024 (filed late, 2025-04)", ""),
    ("net_result", "-650000", "2024-12-31", "annual report 2024", ""),
    ("equity", "1200000", "2024-12-31", "annual report 2024", ""),
    ("release_cadence", "80", "2025-04-20", "releases.atom", "collected"),
    ("status_incidents", "7", "2025-05-01", "status page", "collected"),
    ("export_error_rate", "0.3", "2025-05-15", "export health", "collected"),
    ("support_response_time", "90", "2025-05-20", "our tickets", ""),
    ("insolvency_notice", "yes", "2025-06-10", "court register",
     "preliminary insolvency proceedings opened"),
]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img" / "risk-example.png"
    vk = [sys.executable, "-m", "vaultkeeper"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*vk, "init", "--demo", "--dir", tmp], check=True, capture_output=True)
        config = ["--config", str(Path(tmp) / "vaultkeeper.toml")]
        for signal, value, day, source, note in STORY:
            subprocess.run([*vk, *config, "risk", "record", signal, value, "--date", day,
                            "--source", source, "--note", note], check=True,
                           capture_output=True)
        subprocess.run([*vk, *config, "risk", "show", "--as-of", AS_OF, "--chart", str(out)],
                       check=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
