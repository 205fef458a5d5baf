/**
 * JSON parsing that keeps every number's exact text and never throws.
 *
 * Guarantees:
 * - A JSON number becomes a {@link JsonNumber} holding the number's original text (`117250.10`
 *   stays `117250.10`, `18446744073709551615` keeps all its digits), so money and trade ids never
 *   round-trip through floats. Strings, booleans and null are returned as JSON.parse gives them.
 * - {@link parseJson} returns `undefined` for anything that is not one complete JSON document
 *   (truncated text, stray bytes, nesting deep enough to exhaust the stack): callers turn that
 *   into an `invalid_json` reject.
 */

/** A JSON number as the exact text the sender wrote. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** A parsed JSON value whose numbers are {@link JsonNumber}s. */
export type Json = null | boolean | string | JsonNumber | Json[] | JsonObject;

/** A parsed JSON object. */
export interface JsonObject {
  [key: string]: Json;
}

function reviver(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === "number" ? new JsonNumber(context?.source ?? String(value)) : value;
}

/** Parses one JSON document keeping numbers' text; `undefined` when `text` is not valid JSON. */
export function parseJson(text: string): Json | undefined {
  try {
    return JSON.parse(text, reviver) as Json;
  } catch {
    return undefined;
  }
}

/** True for a JSON object (not an array, not null). */
export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}
