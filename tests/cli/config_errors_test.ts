/** Every configuration error is one line that names the flag or variable to fix, and exits 2. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { runCli } from "../support/cli.ts";

const CASES: { name: string; args: string[]; env?: Record<string, string>; error: RegExp }[] = [
  { name: "unknown flag", args: ["stream", "--nope"], error: /unknown option '--nope'/ },
  { name: "unknown subcommand", args: ["streem"], error: /unknown command 'streem'/ },
  {
    name: "lease too short",
    args: ["stream", "--group", "g", "--lease-ms", "10"],
    error: /--lease-ms: "10" must be a whole number ≥ 1000/,
  },
  {
    name: "lease from the environment",
    args: ["stream"],
    env: { BTCFEED_LEASE_MS: "5s" },
    error: /BTCFEED_LEASE_MS: "5s" must be a whole number/,
  },
  {
    name: "group name",
    args: ["stream", "--group", "my group"],
    error: /--group: a group name must be 1-64 characters/,
  },
  {
    name: "feeder id from the environment",
    args: ["stream", "--group", "g"],
    env: { BTCFEED_FEEDER_ID: "a b" },
    error: /BTCFEED_FEEDER_ID: a feeder id must be 1-64 characters/,
  },
  {
    name: "primary URL scheme",
    args: ["stream", "--primary", "http://127.0.0.1:6379"],
    error: /--primary.*redis:\/\/ or rediss:\/\//,
  },
  {
    name: "primary URL from the environment",
    args: ["stream"],
    env: { BTCFEED_PRIMARY_URL: "redis://127.0.0.1:99999" },
    error: /BTCFEED_PRIMARY_URL.*port/,
  },
  {
    name: "legacy keys on a cluster primary",
    args: ["stream", "--legacy-keys", "--primary", "redis+cluster://127.0.0.1:7000"],
    error: /--legacy-keys: the legacy keys cannot be written to a Redis Cluster \(--primary\)/,
  },
  {
    name: "failover URL",
    args: ["stream", "--failover", "redis://"],
    error: /--failover/,
  },
  {
    name: "unknown exchange",
    args: ["stream", "--exchanges", "binance,mtgox"],
    error: /--exchanges: unknown exchange "mtgox".*binance, coinbase/,
  },
  {
    name: "malformed market",
    args: ["stream", "--exchanges", "binance:BTCUSDT"],
    error: /--exchanges: market "binance:BTCUSDT" must look like binance:BTC-USDT/,
  },
  {
    name: "exchanges from the environment",
    args: ["stream"],
    env: { BTCFEED_EXCHANGES: "kraken,kraken" },
    error: /BTCFEED_EXCHANGES: kraken:BTC-USD is listed twice/,
  },
  {
    name: "exchange URL override without e=",
    args: ["stream", "--exchange-url", "ws://127.0.0.1:1/ws"],
    error: /--exchange-url: .* must be <exchange>=<url>/,
  },
  {
    name: "exchange URL with the wrong scheme",
    args: ["stream", "--exchange-url", "binance=http://127.0.0.1:1/ws"],
    error: /--exchange-url: binance URL must start with ws:\/\/ or wss:\/\//,
  },
  {
    name: "REST URL with the wrong scheme",
    args: ["stream", "--rest-url", "binance=ws://127.0.0.1:1"],
    error: /--rest-url: binance URL must start with http:\/\/ or https:\/\//,
  },
  {
    name: "http listener",
    args: ["stream", "--http", "localhost"],
    error: /--http: "localhost" must be host:port/,
  },
  {
    name: "http listener from the environment",
    args: ["stream"],
    env: { BTCFEED_HTTP: "127.0.0.1:70000" },
    error: /BTCFEED_HTTP/,
  },
  { name: "prefix", args: ["stream", "--prefix", "a b"], error: /--prefix: prefix must be/ },
  {
    name: "legacy keys boolean",
    args: ["stream"],
    env: { BTCFEED_LEGACY_KEYS: "maybe" },
    error: /BTCFEED_LEGACY_KEYS: "maybe" is not a boolean/,
  },
  {
    name: "quiet boolean",
    args: ["stream"],
    env: { BTCFEED_QUIET: "sometimes" },
    error: /BTCFEED_QUIET: "sometimes" is not a boolean/,
  },
  {
    name: "log format",
    args: ["stream", "--log-format", "xml"],
    error: /--log-format: "xml" must be one of pretty, json/,
  },
  {
    name: "outbox limit",
    args: ["stream", "--outbox-max", "-5"],
    error: /--outbox-max: "-5" must be a whole number/,
  },
  {
    name: "deadline",
    args: ["stream", "--deadline-ms", "fast"],
    error: /--deadline-ms: "fast" must be a whole number/,
  },
  {
    name: "TLS CA file",
    args: ["stream", "--tls-ca", "/nonexistent/ca.pem"],
    error: /--tls-ca: cannot read "\/nonexistent\/ca.pem"/,
  },
  {
    name: "health max age",
    args: ["health", "--max-age", "soon"],
    error: /--max-age/,
  },
];

for (const c of CASES) {
  Deno.test(`configuration error (${c.name}) is one line naming what to fix, exit 2`, async () => {
    const r = await runCli(c.args, c.env);
    assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, `one line, got:\n${r.stderr}`);
    match(lines[0], c.error);
  });
}

Deno.test("a password in a bad URL never appears in the error", async () => {
  const r = await runCli(["stream", "--primary", "redis://user:hunter2@127.0.0.1:0"]);
  assertEquals(r.code, 2);
  ok(!r.stderr.includes("hunter2"), r.stderr);
  ok(!r.stdout.includes("hunter2"), r.stdout);
});

Deno.test("--help and --version exit 0", async () => {
  const help = await runCli(["--help"]);
  assertEquals(help.code, 0);
  for (const sub of ["stream", "health", "failover", "sync", "monitor"]) {
    match(help.stdout, new RegExp(sub));
  }
  const version = await runCli(["--version"]);
  assertEquals(version.code, 0);
  match(version.stdout, /^\d+\.\d+\.\d+/);
  const streamHelp = await runCli(["stream", "--help"]);
  assertEquals(streamHelp.code, 0);
  for (
    const flag of [
      "--primary",
      "--failover",
      "--data-dir",
      "--exchanges",
      "--exchange-url",
      "--rest-url",
      "--http",
      "--prefix",
      "--legacy-keys",
      "--log-format",
    ]
  ) {
    match(streamHelp.stdout, new RegExp(flag));
  }
});
