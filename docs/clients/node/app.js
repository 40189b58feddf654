"use strict";
// An application's writes through Sentinel with ioredis: TLS, a client certificate, an ACL user.
//
// Configuration from the environment (docs/clients.md has the table); passwords are read from the
// files that REDIS_PASSWORD_FILE and REDIS_SENTINEL_PASSWORD_FILE name. The argument is how long to
// write, in seconds (default 60); SIGTERM ends the run early. One line per write:
//
//     2026-01-01T12:00:00.000Z ok 42 10.0.0.12:6379     (the counter, the server that took the write)
//     2026-01-01T12:00:00.100Z error ...
//
// Exits 0 when the last write succeeded.
const fs = require("node:fs");
const Redis = require("ioredis");

function env(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) {
    console.error(`${name} is not set (see docs/clients.md)`);
    process.exit(2);
  }
  return value;
}

// A password from the file the variable names: never on a command line.
const secret = (name) => fs.readFileSync(env(name), "utf8").trim();

// The CA that signed the servers' and sentinels' certificates, and the application's own
// certificate. Node checks the server's certificate and that it names the address connected to
// (the kit's certificates carry each host's name and IP address).
const tls = {
  ca: fs.readFileSync(env("REDIS_TLS_CA")),
  cert: fs.readFileSync(env("REDIS_TLS_CERT")),
  key: fs.readFileSync(env("REDIS_TLS_KEY")),
};

const redis = new Redis({
  sentinels: env("REDIS_SENTINELS")
    .split(",")
    .map((address) => {
      const i = address.lastIndexOf(":");
      return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
    }),
  name: env("REDIS_MASTER_NAME", "redis-main"),
  // The sentinels have ACL users of their own (redis_sentinel_client_users), and TLS.
  sentinelUsername: env("REDIS_SENTINEL_USERNAME"),
  sentinelPassword: secret("REDIS_SENTINEL_PASSWORD_FILE"),
  sentinelTLS: tls,
  // TLS to the primary too: without this, ioredis ignores `tls` in Sentinel mode.
  enableTLSForSentinelMode: true,
  tls,
  username: env("REDIS_USERNAME"),
  password: secret("REDIS_PASSWORD_FILE"),
  connectTimeout: 1000,
  // The ready check runs INFO, which the kit's application users may not (@dangerous).
  enableReadyCheck: false,
  // Follow +switch-master on the sentinels: reconnect as soon as a failover is announced.
  failoverDetector: true,
  // A demoted primary answers writes with READONLY: reconnect (asking the sentinels) and
  // send the command again.
  reconnectOnError: (err) => (err.message.startsWith("READONLY") ? 2 : false),
});
redis.on("error", (err) => console.log(`${now()} event ${err.message}`));

// ioredis 5 can give up for good in a failover: when +switch-master arrives while it is still
// reconnecting through the sentinels, its connector stops with "Connection is closed." and the
// client ends; every command then fails at once (ioredis issue 1683, seen on the lab). Start it
// again, unless the program is stopping.
let stopping = false;
redis.on("end", () => {
  if (stopping) return;
  console.log(`${now()} event connection ended: connecting again`);
  setTimeout(() => redis.connect().catch(() => {}), 100);
});

// INCR, and the server that took it (CLIENT INFO's laddr, over the same connection).
async function write(key) {
  const [[incrError, count], [infoError, info]] = await redis.pipeline().incr(key).client("INFO").exec();
  if (incrError || infoError) throw incrError || infoError;
  return [count, /\bladdr=(\S+)/.exec(info)[1]];
}

async function main() {
  const seconds = Number(process.argv[2] || 60);
  const key = env("REDIS_COUNTER_KEY", "app:clients:node");
  let stopped = false;
  process.on("SIGTERM", () => {
    stopped = true;
  });
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let errors = 0;
  let lastOk = false;
  while (Date.now() < deadline && !stopped) {
    try {
      const [count, server] = await write(key);
      ok += 1;
      lastOk = true;
      console.log(`${now()} ok ${count} ${server}`);
    } catch (err) {
      errors += 1;
      lastOk = false;
      console.log(`${now()} error ${err.name}: ${err.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`${now()} done ok=${ok} errors=${errors} last=${lastOk ? "ok" : "error"}`);
  stopping = true;
  redis.disconnect();
  return lastOk ? 0 : 1;
}

function now() {
  return new Date().toISOString();
}

main().then((code) => {
  process.exitCode = code;
});
