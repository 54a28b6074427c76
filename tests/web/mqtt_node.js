// MQTT.js in Node, for the web tests. Reads a JSON command on stdin, prints JSON lines.
//   {mode: "echo", url, version, topic, count, qos, large, ca}   subscribe, publish to itself
//   {mode: "subscribe", url, version, topic, count, ca}         print {ready}, then what came
//   {mode: "publish", url, version, topic, count, qos, ca}
"use strict";
const fs = require("fs");
const mqtt = require("mqtt");

const cmd = JSON.parse(fs.readFileSync(0, "utf8"));
const options = {
  protocolVersion: cmd.version || 4,
  clientId: cmd.clientId || `node-${process.pid}-${Date.now()}`,
  reconnectPeriod: 0,
  connectTimeout: 5000,
};
if (cmd.ca) options.ca = fs.readFileSync(cmd.ca);
const deadline = setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout", received: received.length }));
  process.exit(3);
}, (cmd.timeout || 20) * 1000);
const received = [];
const client = mqtt.connect(cmd.url, options);
client.on("error", (e) => {
  console.log(JSON.stringify({ error: String(e) }));
  process.exit(2);
});

function finish(result) {
  clearTimeout(deadline);
  client.end(false, {}, () => {
    console.log(JSON.stringify(result));
    process.exit(0);
  });
}

client.on("connect", (connack) => {
  const count = cmd.count || 1;
  if (cmd.mode === "publish") {
    let done = 0;
    for (let i = 0; i < count; i++)
      client.publish(cmd.topic, `m${i}`, { qos: cmd.qos || 0 }, () => {
        if (++done === count) finish({ published: done });
      });
    return;
  }
  client.on("message", (topic, payload) => {
    received.push(payload.length > 64 ? `<${payload.length} bytes>` : payload.toString());
    if (received.length === count + (cmd.large ? 1 : 0)) finish({ received, protocol: client.options.protocolVersion });
  });
  client.subscribe(cmd.topic, { qos: cmd.qos || 0 }, (err) => {
    if (err) {
      console.log(JSON.stringify({ error: String(err) }));
      process.exit(2);
    }
    if (cmd.mode === "subscribe") {
      console.log(JSON.stringify({ ready: true }));
      return;
    }
    for (let i = 0; i < count; i++) client.publish(cmd.topic, `m${i}`, { qos: cmd.qos || 0 });
    if (cmd.large) client.publish(cmd.topic, Buffer.alloc(cmd.large, 0x61), { qos: 1 });
  });
});
