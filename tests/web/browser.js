// Headless Chromium (Debian's /usr/bin/chromium) driven by puppeteer-core, which never
// downloads a browser. Reads a JSON command on stdin and prints JSON lines.
//   {mode: "mqtt", page, url, count}   on `page` (which loads MQTT.js), connect to `url`,
//                                       subscribe, publish `count` messages, report them
//   {mode: "status", page, expect_increase, screenshot}
//       open the status page, print {ready, connected} once it shows a client count, then
//       wait until the count rose by `expect_increase`, take the screenshot, print the result
// Environment: HOME (whose NSS database trusts the test CA), CHROMIUM_PROFILE (a fresh
// --user-data-dir).
"use strict";
const fs = require("fs");
const puppeteer = require("puppeteer-core");

const cmd = JSON.parse(fs.readFileSync(0, "utf8"));
const out = (o) => console.log(JSON.stringify(o));

async function main() {
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           `--user-data-dir=${process.env.CHROMIUM_PROFILE}`],
    defaultViewport: { width: 1200, height: 900 },
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
    const resp = await page.goto(cmd.page, { waitUntil: "load", timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`page ${cmd.page}: ${resp && resp.status()}`);
    if (cmd.mode === "mqtt") {
      const result = await page.evaluate((url, count) => new Promise((resolve, reject) => {
        const got = [];
        const c = window.mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
        c.on("error", (e) => reject(String(e)));
        c.on("message", (t, p) => {
          got.push(p.toString());
          if (got.length === count) c.end(false, {}, () => resolve(got));
        });
        c.on("connect", () => c.subscribe("browser/t", { qos: 1 }, () => {
          for (let i = 0; i < count; i++) c.publish("browser/t", `b${i}`, { qos: i % 2 });
        }));
        setTimeout(() => reject(`timeout with ${got.length} messages`), 15000);
      }), cmd.url, cmd.count);
      out({ received: result, errors });
      return;
    }
    const count = async () => page.$eval("#clients-connected", (e) => e.textContent.trim());
    const deadline = Date.now() + 20000;
    let first;
    while (Date.now() < deadline) {
      const t = await count();
      if (/^\d[\d,]*$/.test(t)) { first = Number(t.replace(/,/g, "")); break; }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (first === undefined) throw new Error(`no client count shown: ${await count()}`);
    out({ ready: true, connected: first, state: await page.$eval("#state", (e) => e.textContent) });
    let now = first;
    while (Date.now() < deadline + 20000) {
      now = Number((await count()).replace(/,/g, ""));
      if (now >= first + cmd.expect_increase) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Let the chart draw a few points of the traffic before the picture.
    if (cmd.screenshot) {
      await new Promise((r) => setTimeout(r, cmd.settle_ms || 0));
      await page.screenshot({ path: cmd.screenshot, fullPage: true });
    }
    out({ first, now, errors });
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  out({ error: String(e && e.stack || e) });
  process.exit(1);
});
