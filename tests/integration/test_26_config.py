"""Settings: every config key is a flag and is documented; files round-trip; errors are clear."""
import re
import subprocess

import pytest

from conftest import MUSQRATT_BIN, REPO_ROOT

pytestmark = pytest.mark.musqratt_only


def _run(*args):
    return subprocess.run([MUSQRATT_BIN, *args], capture_output=True, text=True, timeout=10)


def _keys(text):
    return re.findall(r"^(\w+) = ", text, re.M)


def test_example_config_is_complete_and_current():
    printed = _run("--print-config").stdout
    assert (REPO_ROOT / "config" / "musqratt.toml").read_text() == printed, \
        "config/musqratt.toml is stale: run scripts/gen-config-docs.py"


def test_every_key_is_a_flag_and_documented():
    keys = _keys(_run("--print-config").stdout)
    assert len(keys) > 30
    help_text = _run("--help").stdout
    doc = (REPO_ROOT / "docs" / "configuration.md").read_text()
    for k in keys:
        flag = "--" + k.replace("_", "-")
        assert flag in help_text, f"{flag} missing from --help"
        assert f"| `{k}` | `{flag}` |" in doc, f"{k} missing from docs/configuration.md"


def test_config_file_round_trips_and_flags_win(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('max_inflight = 7\nhold_unsubscribed = ["a/#", "b/#"]\nlog_level = "warn"\n')
    out = _run("--config", str(f), "--max-inflight", "9", "--print-config").stdout
    assert re.search(r"^max_inflight = 9$", out, re.M)
    assert re.search(r'^hold_unsubscribed = \["a/#", "b/#"\]$', out, re.M)
    assert re.search(r'^log_level = "warn"$', out, re.M)
    again = tmp_path / "again.toml"
    again.write_text(out)
    assert _run("--config", str(again), "--print-config").stdout == out


@pytest.mark.parametrize("content,message", [
    ("nonsense = 1\n", "unknown key 'nonsense'"),
    ("max_inflight = -1\n", "max_inflight"),
    ("max_inflight = \n", "line 1"),
    ("retain_available = 3\n", "retain_available"),
])
def test_bad_config_files_are_refused_clearly(tmp_path, content, message):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    r = _run("--config", str(f))
    assert r.returncode == 2
    assert message in r.stderr, r.stderr


def test_unknown_flag_and_version():
    r = _run("--no-such-flag", "1")
    assert r.returncode == 2 and "unknown option '--no-such-flag'" in r.stderr
    v = _run("--version")
    assert v.returncode == 0 and v.stdout.startswith("musqratt ")


@pytest.mark.musqratt_only
def test_version_names_the_heap_the_broker_really_runs_on(broker):
    """--version says which allocator serves the heap (MUSQRATT_ALLOCATOR); a running broker
    that has libmimalloc mapped must say mimalloc, and one that has not must say glibc.
    (MUSQRATT_BIN may be a wrapper script, so the process is asked, not the file.)"""
    v = _run("--version")
    m = re.fullmatch(r"musqratt \S+ \(heap: (mimalloc \d+\.\d+\.\d+|glibc malloc)\)\n", v.stdout)
    assert m, v.stdout
    with open(f"/proc/{broker.pid}/maps") as f:
        runs_on_mimalloc = "libmimalloc" in f.read()
    assert m.group(1).startswith("mimalloc") == runs_on_mimalloc, (v.stdout, runs_on_mimalloc)
