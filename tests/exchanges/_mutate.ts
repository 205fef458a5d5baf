/**
 * Deterministic message mutations for the fuzz test. Structural mutations work on the parsed tree
 * and re-serialize numbers with their original text, so only the mutated node changes.
 */

import { isObject, type Json, JsonNumber, parseJson } from "../../lib/exchanges/_json.ts";

export type MutationKind =
  | "truncate"
  | "type_swap"
  | "bad_number"
  | "delete_field"
  | "random_bytes";
/** Mutations after which any trade produced must equal a trade of the original message. */
export const STRUCTURAL: ReadonlySet<MutationKind> = new Set([
  "truncate",
  "type_swap",
  "bad_number",
  "delete_field",
]);

/** Numbers and numeric strings that are never a valid price, size, id or time. */
const BAD_NUMBERS = [
  "0.0",
  "-0",
  "-1",
  "-117250.01",
  "0.000",
  "1e5",
  "1E-3",
  "1e400",
  "-1e400",
  "NaN",
  "Infinity",
  "-Infinity",
  "0x1F",
  "1.2.3",
  " 1",
  "",
  "1_000",
];

/** Serializes a tree, writing {@link JsonNumber}s as their exact text. */
export function serialize(v: Json): string {
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map(serialize).join(",")}]`;
  if (isObject(v)) {
    return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${serialize(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

type Slot = { parent: Json[] | Record<string, Json>; key: string | number };

function slots(v: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) v.forEach((c, i) => (out.push({ parent: v, key: i }), slots(c, out)));
  else if (isObject(v)) {
    for (const k of Object.keys(v)) out.push({ parent: v, key: k }), slots(v[k], out);
  }
  return out;
}

const get = (s: Slot) => (s.parent as Record<string | number, Json>)[s.key];
const set = (s: Slot, v: Json) => ((s.parent as Record<string | number, Json>)[s.key] = v);

function swapType(v: Json, pick: <T>(xs: T[]) => T): Json {
  if (v instanceof JsonNumber) {
    return pick<Json>([v.text, v.text === "1" ? true : false, null, [v], {}]);
  }
  if (typeof v === "string") {
    const asNumber = /^-?[0-9]/.test(v) && parseJson(v) instanceof JsonNumber
      ? [new JsonNumber(v)]
      : [];
    return pick<Json>([...asNumber, null, true, [v], { v }]);
  }
  if (typeof v === "boolean") return pick<Json>([String(v), new JsonNumber(v ? "1" : "0"), null]);
  if (v === null) return pick<Json>(["null", new JsonNumber("0"), false]);
  if (Array.isArray(v)) return pick<Json>([null, "[]", {}]);
  return pick<Json>([null, "{}", [v]]);
}

/** One mutation of `text` of the given kind, driven by `rnd`; null when the kind does not apply. */
export function mutate(text: string, kind: MutationKind, rnd: () => number): string | null {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  if (kind === "truncate") {
    return text.length > 1 ? text.slice(0, Math.floor(rnd() * (text.length - 1))) : null;
  }
  if (kind === "random_bytes") {
    const chars = [...text];
    const n = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rnd() * (chars.length + 1));
      const c = String.fromCharCode(Math.floor(rnd() * (rnd() < 0.8 ? 128 : 0x10000)));
      if (rnd() < 0.5 && chars.length) chars[Math.min(at, chars.length - 1)] = c;
      else chars.splice(at, 0, c);
    }
    return chars.join("");
  }
  const tree = parseJson(text);
  if (tree === undefined) return null;
  const all = slots(tree);
  if (kind === "delete_field") {
    const keyed = all.filter((s) => typeof s.key === "string");
    if (!keyed.length) return null;
    const s = pick(keyed);
    delete (s.parent as Record<string, Json>)[s.key as string];
  } else if (kind === "type_swap") {
    if (!all.length) return null;
    const s = pick(all);
    set(s, swapType(get(s), pick));
  } else {
    const numeric = all.filter((s) => {
      const v = get(s);
      return v instanceof JsonNumber || (typeof v === "string" && /^-?[0-9]/.test(v));
    });
    if (!numeric.length) return null;
    const s = pick(numeric);
    const bad = pick(BAD_NUMBERS);
    const parsed = parseJson(bad);
    const asNumber = parsed instanceof JsonNumber && parsed.text === bad;
    set(s, get(s) instanceof JsonNumber && asNumber ? new JsonNumber(bad) : bad);
  }
  return serialize(tree);
}
