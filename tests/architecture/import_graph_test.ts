/**
 * The dependency rule of lib/, executable: every import points down the layers below, and the
 * import graph has no cycle. The layers are data here; README's "Development" section describes
 * them. A file matches the first layer that lists it (an exact file, or a folder ending in `/`).
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

interface Layer {
  name: string;
  files: string[];
  /** Layers this one may import (besides itself). */
  may: string[];
}

/** Lowest first. */
const LAYERS: Layer[] = [
  {
    name: "base",
    files: [
      "lib/trade.ts",
      "lib/domain.ts",
      "lib/defaults.ts",
      "lib/version.ts",
      "lib/log.ts",
      "lib/time.ts",
      "lib/redact.ts",
      "lib/failure_log.ts",
    ],
    may: [],
  },
  { name: "exchanges", files: ["lib/exchanges/"], may: ["base"] },
  { name: "redis", files: ["lib/redis/"], may: ["base"] },
  { name: "store", files: ["lib/store/"], may: ["base"] },
  { name: "runtime", files: ["lib/runtime/"], may: ["base", "store"] },
  {
    name: "config",
    files: ["lib/config.ts", "lib/config_values.ts"],
    may: ["base", "exchanges", "redis"],
  },
  { name: "feed", files: ["lib/feed/"], may: ["base", "exchanges"] },
  { name: "consolidator", files: ["lib/consolidator.ts"], may: ["base"] },
  { name: "failover", files: ["lib/failover/"], may: ["base", "redis", "store", "runtime"] },
  { name: "health", files: ["lib/health/"], may: ["base", "config", "redis", "store", "runtime"] },
  { name: "monitor", files: ["lib/monitor/"], may: ["base", "runtime", "health"] },
  { name: "demo", files: ["lib/demo/"], may: ["base", "redis", "runtime"] },
  {
    name: "app",
    files: ["lib/app/"],
    may: [
      "base",
      "exchanges",
      "redis",
      "store",
      "runtime",
      "config",
      "feed",
      "consolidator",
      "failover",
      "health",
    ],
  },
  {
    name: "cli",
    files: ["lib/cli/"],
    may: [
      "base",
      "exchanges",
      "redis",
      "store",
      "runtime",
      "config",
      "feed",
      "consolidator",
      "failover",
      "health",
      "monitor",
      "demo",
      "app",
    ],
  },
  { name: "main", files: ["main.ts"], may: ["base", "config", "cli"] },
];

/** Modules config.ts must never reach, even indirectly (it must stay cheap and core-free). */
const CONFIG_MUST_NOT_REACH = [/^lib\/failover\//, /^lib\/store\//, /^lib\/app\//, /^ioredis$/];

type Graph = Map<string, string[]>;

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), "..", ".."));

/** Import and export-from specifiers of a TypeScript source (comments ignored). */
export function specifiers(source: string, runtimeOnly = false): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((re) =>
    [...code.matchAll(re)]
      .filter((m) => !runtimeOnly || !/^(?:import|export)\s+type\s/.test(m[0]))
      .map((m) => m[1])
  );
}

/**
 * The import graph of lib/ and main.ts: repository-relative paths, packages by bare name. With
 * `runtimeOnly`, `import type` / `export type` edges (erased at run time) are left out.
 */
function readGraph(runtimeOnly = false): Graph {
  const graph: Graph = new Map();
  const files = ["main.ts", ...walk("lib")];
  for (const file of files) {
    const deps = specifiers(Deno.readTextFileSync(join(ROOT, file)), runtimeOnly).map((s) =>
      s.startsWith(".") ? relative(ROOT, join(ROOT, dirname(file), s)) : s.replace(/^npm:/, "")
    );
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...walk(path));
    else if (path.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

function layerOf(file: string, layers: Layer[]): Layer | null {
  return layers.find((l) =>
    l.files.some((f) => f.endsWith("/") ? file.startsWith(f) : file === f)
  ) ??
    null;
}

/** Every project import that goes sideways or up, as `from -> to (layer -> layer)`. */
export function forbiddenEdges(graph: Graph, layers: Layer[]): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    const a = layerOf(from, layers);
    for (const to of deps.filter((d) => graph.has(d) || d.startsWith("lib/"))) {
      const b = layerOf(to, layers);
      if (!a || !b) out.push(`${from} -> ${to} (unlayered)`);
      else if (a !== b && !a.may.includes(b.name)) {
        out.push(`${from} -> ${to} (${a.name} -> ${b.name})`);
      }
    }
  }
  return out;
}

/** One path per cycle found (each as `a -> b -> ... -> a`). */
export function cycles(graph: Graph): string[] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") {
        found.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** Everything `start` reaches through the graph. */
function reach(graph: Graph, start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    for (const next of graph.get(todo.pop()!) ?? []) {
      if (!seen.has(next)) (seen.add(next), todo.push(next));
    }
  }
  return seen;
}

Deno.test("every import in lib/ and main.ts points down the layers", () => {
  assert.deepEqual(forbiddenEdges(readGraph(), LAYERS), []);
});

Deno.test("the import graph of lib/ and main.ts has no cycle", () => {
  assert.deepEqual(cycles(readGraph()), []);
});

Deno.test("loading config.ts loads neither the failover core, the stores nor ioredis", () => {
  const reached = [...reach(readGraph(true), "lib/config.ts")];
  assert.deepEqual(reached.filter((m) => CONFIG_MUST_NOT_REACH.some((re) => re.test(m))), []);
});

Deno.test("the layers themselves only point down (a layer may import only earlier ones)", () => {
  LAYERS.forEach((layer, i) => {
    const earlier = LAYERS.slice(0, i).map((l) => l.name);
    assert.deepEqual(layer.may.filter((m) => !earlier.includes(m)), [], layer.name);
  });
});

Deno.test("the checker flags a forbidden edge, an unlayered file and a cycle", () => {
  const synthetic: Graph = new Map([
    ["lib/failover/core.ts", ["lib/feed/feed.ts", "lib/trade.ts"]],
    ["lib/feed/feed.ts", ["lib/trade.ts"]],
    ["lib/trade.ts", []],
    ["lib/stray.ts", []],
    ["lib/app/a.ts", ["lib/stray.ts"]],
  ]);
  assert.deepEqual(forbiddenEdges(synthetic, LAYERS), [
    "lib/failover/core.ts -> lib/feed/feed.ts (failover -> feed)",
    "lib/app/a.ts -> lib/stray.ts (unlayered)",
  ]);
  const looped: Graph = new Map([
    ["lib/store/a.ts", ["lib/store/b.ts"]],
    ["lib/store/b.ts", ["lib/store/c.ts"]],
    ["lib/store/c.ts", ["lib/store/a.ts"]],
  ]);
  assert.deepEqual(cycles(looped), [
    "lib/store/a.ts -> lib/store/b.ts -> lib/store/c.ts -> lib/store/a.ts",
  ]);
  assert.deepEqual(forbiddenEdges(looped, LAYERS), []);
});

Deno.test("specifiers finds multi-line, export-from, side-effect and dynamic imports only", () => {
  const source = [
    'import {\n  a,\n  b,\n} from "./a.ts";',
    'export { c } from "../c.ts";',
    'export type { D } from "./d.ts";',
    'import "./side.ts";',
    'const m = await import("./dyn.ts");',
    '// import { x } from "./commented.ts";',
    '/* export * from "./block.ts"; */',
    'const url = "wss://example.com"; import type { E } from "npm:ioredis";',
  ].join("\n");
  assert.deepEqual(specifiers(source).sort(), [
    "../c.ts",
    "./a.ts",
    "./d.ts",
    "./dyn.ts",
    "./side.ts",
    "npm:ioredis",
  ]);
  assert.deepEqual(specifiers(source, true).sort(), ["../c.ts", "./a.ts", "./dyn.ts", "./side.ts"]);
});
