"""Install, run, upgrade, remove and purge the package (see conftest.py)."""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import installed, purge, run

EXPECTED_FILES = [
    "/usr/sbin/musqratt", "/usr/bin/musqratt-cli", "/usr/bin/musqratt-bench",
    "/etc/musqratt/musqratt.toml", "/lib/systemd/system/musqratt.service", "/etc/logrotate.d/musqratt",
    "/usr/share/man/man8/musqratt.8.gz", "/usr/share/man/man1/musqratt-cli.1.gz",
    "/usr/share/man/man1/musqratt-bench.1.gz", "/usr/share/man/man5/musqratt.toml.5.gz",
    "/usr/share/doc/musqratt/copyright", "/usr/share/doc/musqratt/operations.md",
]


@pytest.fixture(scope="module")
def package(deb):
    if installed() or run("dpkg-query", "-W", "musqratt", check=False).returncode == 0:
        purge()  # a previous run that died half-way
    assert not Path("/etc/musqratt").exists() and not Path("/var/lib/musqratt").exists(), \
        "files of an earlier MusQraTT install are in the way"
    run("dpkg", "-i", str(deb))
    listed = run("dpkg", "-L", "musqratt").stdout.split()
    yield {"deb": deb, "files": listed}
    purge()  # whatever happened, the machine is left without it


def test_installs_what_it_says(package):
    for f in EXPECTED_FILES:
        assert f in package["files"], f"{f} not in dpkg -L"
        assert Path(f).exists(), f
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "musqratt").stdout
    assert "/etc/musqratt/musqratt.toml" in conffiles and "/etc/logrotate.d/musqratt" in conffiles
    user = pwd.getpwnam("musqratt")
    assert user.pw_shell == "/usr/sbin/nologin" and user.pw_uid < 1000, "a system user"
    assert grp.getgrgid(user.pw_gid).gr_name == "musqratt"
    st = os.stat("/var/lib/musqratt")
    assert st.st_uid == user.pw_uid and stat.S_IMODE(st.st_mode) == 0o750
    assert run("/usr/sbin/musqratt", "--version").stdout.startswith("musqratt ")
    man = run("man", "-w", "musqratt.toml", check=False)
    assert man.returncode == 0 and "man5/musqratt.toml.5.gz" in man.stdout


def test_the_unit_verifies_and_is_hardened(package):
    r = run("systemd-analyze", "verify", "/lib/systemd/system/musqratt.service", check=False)
    assert r.returncode == 0, r.stderr
    r = run("systemd-analyze", "security", "--offline=true", "/lib/systemd/system/musqratt.service", check=False)
    m = re.search(r"Overall exposure level for musqratt.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def _as_musqratt(*args, **kw):
    return ["setpriv", "--reuid=musqratt", "--regid=musqratt", "--init-groups", "--no-new-privs", "--", *args]


def test_installed_config_checks_clean_as_the_service_user(package):
    r = run(*_as_musqratt("/usr/sbin/musqratt", "--check-config", "--config", "/etc/musqratt/musqratt.toml"))
    assert "configuration OK" in r.stdout


def test_installed_broker_runs_as_musqratt_and_serves(package):
    # The test plays the service manager: a datagram socket for READY=1, reachable by the user.
    d = Path(tempfile.mkdtemp(prefix="musqratt-pkg-"))
    os.chmod(d, 0o755)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(d / "notify"))
    os.chmod(d / "notify", 0o666)
    notify.settimeout(15)
    log = d / "broker.log"
    # The installed configuration as it is, but on a free port (flags win over the file), so a
    # broker already on 1883 does not get in the way.
    with open(log, "wb") as out:
        proc = subprocess.Popen(_as_musqratt("/usr/sbin/musqratt", "--config", "/etc/musqratt/musqratt.toml",
                                             "--listen", "127.0.0.1:0"),
                                stdout=out, stderr=out, env={"NOTIFY_SOCKET": str(d / "notify"), "PATH": "/usr/bin:/bin"})
    try:
        msg = notify.recv(4096).decode()
        assert msg.startswith("READY=1"), msg
        text = log.read_text()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", text).group(1))
        assert "restored 0 session(s)" in text, "persistence from the installed config is on"
        assert pwd.getpwuid(int(Path(f"/proc/{proc.pid}/status").read_text().split("Uid:")[1].split()[0])).pw_name == "musqratt"
        run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "pkg/retained", "-m", "kept", "-q", "1", "-r")
        sub = run("mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "pkg/#", "-q", "1", "-C", "1", "-W", "5", "-v")
        assert sub.stdout.strip() == "pkg/retained kept"
        db = Path("/var/lib/musqratt/musqratt.db")
        assert db.exists() and db.stat().st_uid == pwd.getpwnam("musqratt").pw_uid
        r = run("musqratt-cli", "store", "check", "/var/lib/musqratt")
        assert ": ok (" in r.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log.read_text()
        notify.close()
        shutil.rmtree(d, ignore_errors=True)


def _bumped(deb, tmp_path, version):
    """The same package under a newer version (an upgrade without a second build)."""
    tree = tmp_path / "tree"
    run("dpkg-deb", "-R", str(deb), str(tree))
    control = tree / "DEBIAN" / "control"
    control.write_text(re.sub(r"^Version: .*$", f"Version: {version}", control.read_text(), flags=re.M))
    out = tmp_path / f"musqratt_{version}_amd64.deb"
    run("dpkg-deb", "--root-owner-group", "-b", str(tree), str(out))
    return out


def test_upgrade_keeps_local_configuration_and_data(package, tmp_path):
    conf = Path("/etc/musqratt/musqratt.toml")
    conf.write_text(conf.read_text() + "\n# a local change\nmax_connections = 500\n")
    marker = Path("/var/lib/musqratt/kept-across-upgrade")
    marker.write_text("x")
    newer = _bumped(package["deb"], tmp_path, "0.1.0+upgrade1")
    run("dpkg", "-i", "--force-confold", str(newer))
    assert "max_connections = 500" in conf.read_text(), "a changed conffile is kept"
    assert marker.exists(), "the store survives an upgrade"
    assert run("dpkg-query", "-W", "-f=${Version}", "musqratt").stdout == "0.1.0+upgrade1"
    assert pwd.getpwnam("musqratt")
    marker.unlink()


def test_remove_keeps_configuration_and_purge_leaves_nothing(package):
    files = [f for f in package["files"] if Path(f).is_file()]
    run("dpkg", "--remove", "musqratt")
    assert run("dpkg-query", "-W", "-f=${Status}", "musqratt").stdout.endswith("config-files")
    assert not Path("/usr/sbin/musqratt").exists()
    assert Path("/etc/musqratt/musqratt.toml").exists(), "remove keeps conffiles"
    assert Path("/var/lib/musqratt").is_dir(), "remove keeps the store"
    assert pwd.getpwnam("musqratt"), "remove keeps the user"
    run("dpkg", "--purge", "musqratt")
    assert run("dpkg-query", "-W", "musqratt", check=False).returncode != 0, "dpkg forgot it"
    left = [f for f in files if Path(f).exists()]
    assert left == [], left
    for d in ("/etc/musqratt", "/var/lib/musqratt", "/var/log/musqratt", "/usr/share/doc/musqratt"):
        assert not Path(d).exists(), d
    with pytest.raises(KeyError):
        pwd.getpwnam("musqratt")
    with pytest.raises(KeyError):
        grp.getgrnam("musqratt")
