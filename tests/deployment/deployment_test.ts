/**
 * Every file in deployment/ is checked: it parses, the btcfeed subcommands, flags and BTCFEED_*
 * variables it uses exist (`btcfeed <sub> --help`, the config's ENV map), and the systemd unit
 * passes `systemd-analyze verify`. The Containerfile cannot be built here (no registry access).
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { ENV } from "../../lib/config.ts";
import { runCli } from "../support/cli.ts";

const DIR = new URL("../../deployment/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const SUBCOMMANDS = ["stream", "health", "failover", "sync", "monitor", "demo"];
const KNOWN_VARIABLES = new Set(Object.values(ENV));

/** A parsed manifest: walked by the assertions below, which fail on any missing field. */
// deno-lint-ignore no-explicit-any
type Doc = any;

function yamlDocs(name: string): Doc[] {
  const docs = parseAllDocuments(read(name));
  for (const d of docs) assertEquals(d.errors.map(String), [], name);
  return docs.map((d) => d.toJS({ maxAliasCount: 10 }));
}

/** `btcfeed <sub> --flag ...` uses in a file's text, quotes and YAML punctuation removed. */
function btcfeedUses(text: string): { sub: string; flags: string[] }[] {
  const uses: { sub: string; flags: string[] }[] = [];
  for (const line of text.split("\n")) {
    const tokens = line.replace(/["'[\],;]/g, " ").split(/\s+/).filter(Boolean);
    tokens.forEach((t, i) => {
      if (!/(^|\/)btcfeed$/.test(t) || !SUBCOMMANDS.includes(tokens[i + 1])) return;
      const rest = tokens.slice(i + 2);
      const end = rest.findIndex((r) => r === "|" || r === "&&" || r.startsWith("$"));
      const flags = (end >= 0 ? rest.slice(0, end) : rest).filter((r) => r.startsWith("--"));
      uses.push({ sub: tokens[i + 1], flags: flags.map((f) => f.split("=")[0]) });
    });
  }
  return uses;
}

const FILES = [
  "kubernetes.yaml",
  "kubernetes-sentinel.yaml",
  "prometheus-alerts.yaml",
  "digitalocean-app.yaml",
  "btcfeed.service",
  "btcfeed.sh",
  "btcfeed.env.example",
  "cron.example",
  "Containerfile",
];

Deno.test("every deployment file uses only btcfeed subcommands, flags and variables that exist", async () => {
  const help = new Map<string, string>();
  const usedIn = new Set<string>();
  let flagsChecked = 0;
  for (const name of FILES) {
    const text = read(name);
    for (const use of btcfeedUses(text)) {
      if (!help.has(use.sub)) help.set(use.sub, (await runCli([use.sub, "--help"])).stdout);
      for (const flag of use.flags) {
        ok(
          new RegExp(`\\s${flag}\\b`).test(help.get(use.sub)!),
          `${name}: btcfeed ${use.sub} ${flag}`,
        );
        flagsChecked++;
      }
      usedIn.add(name);
    }
    for (const variable of text.match(/BTCFEED_[A-Z_]+/g) ?? []) {
      ok(KNOWN_VARIABLES.has(variable as never), `${name}: unknown variable ${variable}`);
    }
  }
  for (const name of ["kubernetes.yaml", "btcfeed.service", "cron.example"]) {
    ok(usedIn.has(name), `${name} runs btcfeed`);
  }
  ok(flagsChecked > 0, "some flags were checked against --help");
});

Deno.test("the Kubernetes manifest runs feeders of one group one per node, each with its own volume and id, probes on health exit codes", () => {
  const [, set] = yamlDocs("kubernetes.yaml");
  assertEquals(set.kind, "StatefulSet");
  ok(set.spec.replicas >= 2 && set.spec.replicas <= 3);
  const term = set.spec.template.spec.affinity.podAntiAffinity
    .requiredDuringSchedulingIgnoredDuringExecution[0];
  assertEquals(term.topologyKey, "kubernetes.io/hostname");
  assertEquals(term.labelSelector.matchLabels, set.spec.selector.matchLabels);
  const [feeder] = set.spec.template.spec.containers;
  assertEquals(feeder.volumeMounts[0].name, set.spec.volumeClaimTemplates[0].metadata.name);
  assertEquals(feeder.readinessProbe.exec.command, [
    "sh",
    "-c",
    "btcfeed health --max-age 120; [ $? -le 1 ]",
  ]);
  ok(feeder.livenessProbe.exec.command[2].includes("stream not running"));
  const env = Object.fromEntries(
    feeder.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e]),
  );
  ok(env.BTCFEED_GROUP?.value, "the feeders cover for each other as one group");
  assertEquals(env.BTCFEED_FEEDER_ID?.valueFrom, { fieldRef: { fieldPath: "metadata.name" } });
  const sentinel = yamlDocs("kubernetes-sentinel.yaml");
  const names = sentinel.map((d) => d.metadata.name);
  assertEquals(names, ["btcfeed", "btcfeed"]); // what kubernetes.yaml's envFrom reads
  ok(sentinel[1].stringData.BTCFEED_PRIMARY_URL.startsWith("redis+sentinel://"));
});

Deno.test("the probes' shell commands map health exit codes as documented", async () => {
  const [, set] = yamlDocs("kubernetes.yaml");
  const [feeder] = set.spec.template.spec.containers;
  const dir = await Deno.makeTempDir();
  try {
    // A stub `btcfeed health` with a given exit code and status line: the shell logic alone.
    const run = async (probe: string[], code: number, line: string) => {
      await Deno.writeTextFile(`${dir}/btcfeed`, `#!/bin/sh\necho '${line}'\nexit ${code}\n`);
      await Deno.chmod(`${dir}/btcfeed`, 0o755);
      const env = { PATH: `${dir}:${Deno.env.get("PATH")}` };
      return (await new Deno.Command(probe[0], { args: probe.slice(1), env }).output()).code;
    };
    const ready = feeder.readinessProbe.exec.command;
    const live = feeder.livenessProbe.exec.command;
    assertEquals(await run(ready, 0, "BTCFEED OK - fine"), 0);
    assertEquals(await run(ready, 1, "BTCFEED WARNING - failover"), 0);
    ok((await run(ready, 2, "BTCFEED CRITICAL - x")) !== 0);
    ok((await run(ready, 3, "BTCFEED UNKNOWN - x")) !== 0);
    assertEquals(await run(live, 2, "BTCFEED CRITICAL - outbox full; no Redis"), 0);
    ok((await run(live, 2, "BTCFEED CRITICAL - stream not running: heartbeat 40 s old")) !== 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the alert rules cover mode, outbox depth, gaps (and a gap pending too long), dead letters and the group's writer lease with metrics btcfeed exports", async () => {
  const [doc] = yamlDocs("prometheus-alerts.yaml");
  const rules = doc.groups.flatMap((g: { rules: unknown[] }) => g.rules);
  const exported = new Set<string>();
  for await (const f of Deno.readDir(new URL("../../lib/health/", import.meta.url))) {
    const src = await Deno.readTextFile(new URL(`../../lib/health/${f.name}`, import.meta.url));
    for (const m of src.matchAll(/"(btcfeed_[a-z_]+)"/g)) exported.add(m[1]);
  }
  const used = new Set<string>();
  for (const r of rules) {
    ok(r.alert && r.expr && r.labels?.severity, JSON.stringify(r));
    for (const m of String(r.expr).matchAll(/btcfeed_[a-z_]+/g)) {
      ok(exported.has(m[0]), `${r.alert}: ${m[0]} is not exported`);
      used.add(m[0]);
    }
  }
  for (
    const needed of [
      "btcfeed_mode",
      "btcfeed_outbox_depth",
      "btcfeed_market_gaps_total",
      "btcfeed_market_gap_start_time_seconds",
      "btcfeed_outbox_dead_letters",
      "btcfeed_group_writer_present",
      "btcfeed_role",
      "btcfeed_lease_acquisitions_total",
    ]
  ) {
    ok(used.has(needed), needed);
  }
});

Deno.test("the App Platform spec runs a worker per feeder, all of one group, on the managed Redis over TLS", () => {
  const [spec] = yamlDocs("digitalocean-app.yaml");
  assertEquals(spec.databases[0].engine, "REDIS");
  const db = spec.databases[0].name;
  ok(spec.workers.length >= 2);
  for (const w of spec.workers) {
    const env = Object.fromEntries(
      w.envs.map((e: { key: string; value: string }) => [e.key, e.value]),
    );
    assertEquals(env.BTCFEED_PRIMARY_URL, `\${${db}.REDIS_URL}`);
    assertEquals(env.BTCFEED_TLS_CA, `\${${db}.CA_CERT}`);
    assertEquals(w.run_command, "deno task stream");
    assertEquals(
      env.BTCFEED_GROUP,
      spec.workers[0].envs.find((e: { key: string }) => e.key === "BTCFEED_GROUP")?.value,
    );
    ok(env.BTCFEED_GROUP, "a group");
    ok(Deno.statSync(new URL(`../../${w.dockerfile_path}`, import.meta.url)).isFile);
  }
});

Deno.test("the Containerfile installs Deno from npm and the locked dependencies, and runs the stream task", () => {
  const text = read("Containerfile");
  ok(/npm install -g deno@2/.test(text));
  ok(/deno install --frozen/.test(text));
  ok(text.includes('CMD ["deno", "task", "stream"]'));
  const tasks =
    JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).tasks;
  ok(tasks.stream && tasks.btcfeed);
  ok(read("btcfeed.sh").includes("deno task --quiet btcfeed"));
});

Deno.test("the systemd unit passes systemd-analyze verify", async () => {
  let analyze: Deno.CommandOutput | null = null;
  const dir = await Deno.makeTempDir();
  try {
    // verify checks that ExecStart is executable: point it at a stub in place of the binary.
    await Deno.writeTextFile(`${dir}/btcfeed`, "#!/bin/sh\n");
    await Deno.chmod(`${dir}/btcfeed`, 0o755);
    const unit = read("btcfeed.service");
    ok(unit.includes("ExecStart=/usr/local/bin/btcfeed stream"));
    await Deno.writeTextFile(
      `${dir}/btcfeed.service`,
      unit.replaceAll("/usr/local/bin/btcfeed", `${dir}/btcfeed`),
    );
    try {
      analyze = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/btcfeed.service`],
      }).output();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      console.log(
        "systemd-analyze is not installed: the unit's verify check did not run (apt install systemd)",
      );
    }
    if (analyze) {
      const out = new TextDecoder().decode(analyze.stderr) +
        new TextDecoder().decode(analyze.stdout);
      assertEquals([analyze.code, out.trim()], [0, ""]);
    }
    for (
      const option of [
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
      ]
    ) {
      ok(unit.includes(option), option);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
