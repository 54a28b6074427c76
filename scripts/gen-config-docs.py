#!/usr/bin/python3
"""Regenerates config/musqratt.toml and the option table of docs/configuration.md from the
broker's own `--print-config`, so the example and the reference can never miss a key.
Usage: scripts/gen-config-docs.py [path/to/musqratt]"""
import re
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / "build" / "bin" / "musqratt")
text = subprocess.run([binary, "--print-config"], check=True, capture_output=True, text=True).stdout
(root / "config" / "musqratt.toml").write_text(text)

rows = ["| key | flag | default | meaning |", "|---|---|---|---|"]
# Top-level keys first; then each sub-table ("[cluster]"), printed commented out while not enabled.
parts = re.split(r"^(?:# )?\[(\w+)\]$", text, flags=re.M)
for help_line, key, value in re.findall(r"^# (.*)\n(\w+) = (.*)$", parts[0], re.M):
    rows.append(f"| `{key}` | `--{key.replace('_', '-')}` | `{value}` | {help_line.replace('|', '/')} |")
for table, body in zip(parts[1::2], parts[2::2]):
    for help_line, key, value in re.findall(r"^(?:# )?# (.*)\n(?:# )?(\w+) = (.*)$", body, re.M):
        flag = f"--{table}-{key.replace('_', '-')}"
        rows.append(f"| `[{table}] {key}` | `{flag}` | `{value}` | {help_line.replace('|', '/')} |")
doc = root / "docs" / "configuration.md"
body = doc.read_text()
start, end = "<!-- options:begin -->", "<!-- options:end -->"
new = f"{start}\n" + "\n".join(rows) + f"\n{end}"
body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: new, body, flags=re.S)
doc.write_text(body)
