// The status page: subscribes to $SYS/# over MQTT on a WebSocket listener (MQTT.js) and shows
// what the broker publishes there. Rates are computed here from the counters' increments.
"use strict";

const WINDOW_SECONDS = 300;
const $ = (id) => document.getElementById(id);

const sys = new Map();        // topic -> value (string)
const sysRows = new Map();    // topic -> <tr>
const bridges = new Map();    // name -> {state, backlog, row}
const lastCounter = new Map(); // topic -> {value, t}
const rates = { in: null, out: null };
let client = null;
let chart = null;

function formatCount(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString("en-US");
}

function formatBytes(v) {
  if (v === undefined || Number.isNaN(v)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function formatRate(v) {
  if (v === null) return "–";
  return v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1);
}

function formatDuration(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `up ${d}d ${h}h` : h ? `up ${h}h ${m}m` : `up ${m}m ${Math.floor(s % 60)}s`;
}

function num(topic) {
  const v = sys.get(topic);
  return v === undefined ? undefined : Number(v);
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

// Messages per second from a counter topic: the increment over the time between updates.
function counterRate(topic, value, now) {
  const last = lastCounter.get(topic);
  lastCounter.set(topic, { value, t: now });
  if (!last || now <= last.t || value < last.value) return null;  // first value or a restart
  return ((value - last.value) * 1000) / (now - last.t);
}

function render() {
  setText("version", sys.get("$SYS/broker/version") || "");
  const up = num("$SYS/broker/uptime");
  setText("uptime", up === undefined ? "" : formatDuration(up));
  setText("clients-connected", formatCount(num("$SYS/broker/clients/connected")));
  setText("sessions", formatCount(num("$SYS/broker/clients/total")));
  setText("rate-in", formatRate(rates.in));
  setText("rate-out", formatRate(rates.out));
  setText("bytes-in", formatBytes(num("$SYS/broker/bytes/received")));
  setText("bytes-out", formatBytes(num("$SYS/broker/bytes/sent")));
  setText("dropped", formatCount(num("$SYS/broker/messages/dropped")));
  setText("hold-dropped", formatCount(num("$SYS/broker/hold/dropped")));
  setText("queued", formatCount(num("$SYS/broker/messages/queued")));
  setText("held", formatCount(num("$SYS/broker/hold/messages")));
  setText("subscriptions", formatCount(num("$SYS/broker/subscriptions/count")));
  setText("topics", formatCount(num("$SYS/broker/topics/count")));
  setText("retained", formatCount(num("$SYS/broker/retained/count")));
}

function showSysRow(topic, value) {
  let row = sysRows.get(topic);
  if (!row) {
    row = document.createElement("tr");
    row.append(document.createElement("td"), document.createElement("td"));
    row.cells[0].textContent = topic;
    // Keep the table sorted by topic.
    const tbody = $("sys").tBodies[0];
    const after = [...sysRows.keys()].filter((t) => t > topic).sort()[0];
    tbody.insertBefore(row, after ? sysRows.get(after) : null);
    sysRows.set(topic, row);
  }
  row.cells[1].textContent = value;
}

// Bridges report $SYS/broker/bridges/NAME/state and .../queued (messages waiting or in flight).
function showBridge(name, key, value) {
  let b = bridges.get(name);
  if (!b) {
    const row = document.createElement("tr");
    row.append(document.createElement("td"), document.createElement("td"), document.createElement("td"));
    row.cells[0].textContent = name;
    $("bridges").tBodies[0].append(row);
    b = { row };
    bridges.set(name, b);
    $("no-bridges").classList.add("hidden");
  }
  if (key === "state") b.row.cells[1].textContent = value;
  if (key === "queued") b.row.cells[2].textContent = formatCount(Number(value));
}

function onMessage(topic, payload) {
  const value = new TextDecoder().decode(payload);
  const now = performance.now();
  sys.set(topic, value);
  showSysRow(topic, value);
  const bridge = topic.match(/^\$SYS\/broker\/bridges\/([^/]+)\/(state|queued)$/);
  if (bridge) showBridge(bridge[1], bridge[2], value);
  if (topic === "$SYS/broker/messages/received") rates.in = counterRate(topic, Number(value), now);
  if (topic === "$SYS/broker/messages/sent") {
    rates.out = counterRate(topic, Number(value), now);
    // One chart point per $SYS round, once both counters have a rate.
    if (rates.in !== null && rates.out !== null) chart.push(Date.now(), rates.in, rates.out);
  }
  render();
}

function setState(kind, text) {
  const el = $("state");
  el.className = `state state-${kind}`;
  el.textContent = text;
}

function defaultUrl() {
  const fromQuery = new URLSearchParams(location.search).get("ws");
  if (fromQuery) return fromQuery;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/mqtt`;
}

function connect(url, username, password) {
  if (client) client.end(true);
  lastCounter.clear();
  rates.in = rates.out = null;
  setState("connecting", "connecting");
  $("error").textContent = "";
  const options = {
    protocolVersion: 5,
    clientId: `musqratt-status-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 3000,
    connectTimeout: 10000,
  };
  if (username) options.username = username;
  if (password) options.password = password;
  client = window.mqtt.connect(url, options);
  client.on("connect", () => {
    setState("connected", "live");
    client.subscribe("$SYS/#", { qos: 0 }, (err, granted) => {
      if (err || (granted && granted.some((g) => g.qos >= 128)))
        $("error").textContent = "Subscribing to $SYS/# was refused (check the ACL for this user).";
    });
  });
  client.on("message", onMessage);
  client.on("reconnect", () => setState("connecting", "reconnecting"));
  client.on("offline", () => setState("error", "offline"));
  client.on("error", (err) => {
    setState("error", "error");
    $("error").textContent = `MQTT: ${err.message}`;
  });
}

function start() {
  chart = new RateChart($("rate-chart"), WINDOW_SECONDS);
  setText("window-minutes", String(WINDOW_SECONDS / 60));
  chart.draw(Date.now());
  const url = defaultUrl();
  $("url").value = url;
  $("connect-form").addEventListener("submit", (e) => {
    e.preventDefault();
    connect($("url").value, $("username").value, $("password").value);
  });
  window.addEventListener("resize", () => chart.draw(Date.now()));
  connect(url);
}

document.addEventListener("DOMContentLoaded", start);
