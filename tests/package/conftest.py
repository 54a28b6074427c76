"""The Debian package test: build it (scripts/package.sh), install it on this machine, run the
installed broker as its packaged user, remove and purge it. Root only (dpkg -i); skipped
otherwise, with the reason. The package never stays installed after the run."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = "installs a package with dpkg -i: needs root"
    elif not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        reason = "needs dpkg-dev and debhelper (scripts/install-deps.sh)"
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))


def run(*args, check=True, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def installed():
    r = run("dpkg-query", "-W", "-f=${Status}", "musqratt", check=False)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def purge():
    if run("dpkg-query", "-W", "musqratt", check=False).returncode == 0:
        run("dpkg", "--purge", "musqratt")


@pytest.fixture(scope="session")
def deb():
    """The package built from this tree (MUSQRATT_DEB names a prebuilt one)."""
    given = os.environ.get("MUSQRATT_DEB")
    if given:
        return Path(given)
    run(str(REPO / "scripts" / "package.sh"), timeout=1800, cwd=REPO)
    debs = sorted((REPO / "dist").glob("musqratt_*_*.deb"))
    assert debs, "scripts/package.sh made no package"
    return debs[-1]
