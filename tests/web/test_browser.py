"""MQTT.js inside headless Chromium over ws:// and wss://, and the status page, with Debian's
chromium driven by puppeteer-core (no browser is downloaded).

The browser trusts the test CA the way a person's would: the CA is added to the NSS database
($HOME/.pki/nssdb) that Chromium on Linux reads, with certutil (libnss3-tools), under a HOME
made for the test. No certificate check is switched off."""
import json
import os
import shutil
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest

from conftest import HERE, NODE, REPO_ROOT, run_node, tls_args

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_env(tmp_path, pki, node_deps):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian package chromium is needed (scripts/install-deps.sh)")
    certutil = shutil.which("certutil")
    assert certutil, "certutil (Debian package libnss3-tools) is needed (scripts/install-deps.sh)"
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "musqratt-test-ca", "-i",
                    str(pki / "ca.crt")], check=True, capture_output=True)
    profile = tmp_path / "profile"
    profile.mkdir()
    return {"HOME": str(home), "CHROMIUM_PROFILE": str(profile)}


def test_mqttjs_in_chromium_over_ws_and_wss(web_broker, pki, browser_env):
    b = web_broker("--ws-listen", "127.0.0.1:0", "--wss-listen", "127.0.0.1:0", *tls_args(pki))
    for page, url in ((f"http://127.0.0.1:{b.ws_port}/", f"ws://127.0.0.1:{b.ws_port}/mqtt"),
                      (f"https://localhost:{b.wss_port}/", f"wss://localhost:{b.wss_port}/mqtt")):
        r = run_node("browser.js", {"mode": "mqtt", "page": page, "url": url, "count": 40}, env=browser_env, timeout=90)
        assert r.get("received") == [f"b{i}" for i in range(40)], r
    b.wait_log(r"connected from .*MQTT 5")


def test_status_page_shows_live_figures(web_broker, browser_env):
    b = web_broker("--ws-listen", "127.0.0.1:0", "--sys-interval", "1")
    screenshot = REPO_ROOT / "docs" / "web-status-page.png"
    proc = subprocess.Popen([NODE, str(HERE / "browser.js")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=HERE, env=dict(os.environ, NODE_PATH=str(HERE / "node_modules"),
                                                          **browser_env))
    clients = []
    stop = threading.Event()
    try:
        proc.stdin.write(json.dumps({"mode": "status", "page": f"http://127.0.0.1:{b.ws_port}/",
                                     "expect_increase": 6, "screenshot": str(screenshot), "settle_ms": 6000}))
        proc.stdin.close()
        ready = json.loads(proc.stdout.readline())
        assert ready.get("ready"), ready
        # (The first figure may be the retained value from before the page's own connection.)
        # Six clients: three over WebSocket, three over TCP; they publish at a steady rate so
        # the chart has something to draw.
        for i in range(6):
            c = paho.Client(client_id=f"page-{i}", transport="websockets" if i < 3 else "tcp")
            c.connect("127.0.0.1", b.ws_port if i < 3 else b.mqtt_port)
            c.loop_start()
            clients.append(c)
        clients[0].subscribe("demo/#", 1)

        def traffic():
            n = 0
            while not stop.is_set() and n < 20000:
                clients[1 + n % 5].publish(f"demo/{n % 7}", f"{n}", qos=n % 2)
                n += 1
                time.sleep(0.01)
        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        result = json.loads(proc.stdout.readline())
        assert "error" not in result, result
        assert result["now"] >= result["first"] + 6, result
        assert result["errors"] == [], result["errors"]
        assert screenshot.stat().st_size > 10000
    finally:
        stop.set()
        for c in clients:
            c.disconnect()
            c.loop_stop()
        proc.kill()
        proc.wait()
