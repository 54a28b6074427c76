"""Builds and runs histogram_check.cpp against musqratt-bench's histogram sources."""
import shutil
import subprocess

import pytest

from bench_helpers import REPO


def test_histogram(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("no C++ compiler")
    src = REPO / "apps" / "musqratt-bench"
    exe = tmp_path / "histogram_check"
    subprocess.run([cxx, "-std=c++23", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{src}",
                    str(REPO / "tests" / "bench" / "histogram_check.cpp"), str(src / "histogram.cpp"),
                    "-o", str(exe)], check=True, timeout=120)
    p = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    assert p.stdout.strip() == "OK"
