import assert from "node:assert/strict";
import { JsonNumber, parseJson } from "../../lib/exchanges/_json.ts";
import {
  decimalFromNumber,
  decimalFromString,
  idFromNumber,
  idFromString,
  msFromIntegerText,
  msFromRfc3339,
  msFromSecondsText,
} from "../../lib/exchanges/_fields.ts";

Deno.test("JSON numbers keep their exact text, digits and trailing zeros included", () => {
  const v = parseJson(`{"p":117250.10,"q":0.00125000,"id":18446744073709551615,"e":1e5,"n":-0}`);
  assert.ok(v && typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonNumber));
  const o = v as Record<string, JsonNumber>;
  assert.deepEqual([o.p.text, o.q.text, o.id.text, o.e.text, o.n.text], [
    "117250.10",
    "0.00125000",
    "18446744073709551615",
    "1e5",
    "-0",
  ]);
});

Deno.test("invalid JSON of any kind returns undefined instead of throwing", () => {
  for (const t of ["", "{", `{"a":1`, "NaN", "[1,]", "\u0000", "[".repeat(200_000), `{"a":1}x`]) {
    assert.equal(parseJson(t), undefined, JSON.stringify(t.slice(0, 20)));
  }
});

Deno.test("decimals are accepted only as plain positive text of the expected JSON type", () => {
  assert.equal(decimalFromString("117250.01000000"), "117250.01000000");
  assert.equal(decimalFromNumber(new JsonNumber("117250.10")), "117250.10");
  for (
    const bad of ["0", "0.000", "-1", "1e3", "+1", " 1", "1.", ".5", "01", "NaN", "Infinity", ""]
  ) {
    assert.equal(decimalFromString(bad), null, bad);
    assert.equal(decimalFromNumber(new JsonNumber(bad)), null, bad);
  }
  assert.equal(decimalFromString(new JsonNumber("1")), null);
  assert.equal(decimalFromNumber("1"), null);
});

Deno.test("trade ids are unsigned 64-bit decimal text", () => {
  assert.equal(idFromNumber(new JsonNumber("18446744073709551615")), "18446744073709551615");
  assert.equal(idFromNumber(new JsonNumber("18446744073709551616")), null);
  assert.equal(idFromString("2290000000123456789"), "2290000000123456789");
  for (const bad of ["-1", "1.0", "1e3", "", "0x10", "007", "abc"]) {
    assert.equal(idFromString(bad), null, bad);
  }
});

Deno.test("RFC 3339 times with µs or ns convert to ms by truncation, offsets included", () => {
  const base = Date.UTC(2026, 6, 28, 12, 0, 0);
  assert.equal(msFromRfc3339("2026-07-28T12:00:00Z"), base);
  assert.equal(msFromRfc3339("2026-07-28T12:00:00.1Z"), base + 100);
  assert.equal(msFromRfc3339("2026-07-28T12:00:00.123456Z"), base + 123);
  assert.equal(msFromRfc3339("2026-07-28T12:00:00.999999999Z"), base + 999);
  assert.equal(msFromRfc3339("2026-07-28T14:00:00.5+02:00"), base + 500);
  assert.equal(msFromRfc3339("2026-07-28T11:30:00-00:30"), base);
  for (
    const bad of [
      "2026-02-30T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-07-28T24:00:00Z",
      "2026-07-28T12:00:00",
      "2026-07-28 12:00:00Z",
      "2026-07-28T12:00:00.1234567890Z",
      "1970-01-01T00:00:00Z",
      "2026-07-28T12:00:00.5+25:00",
    ]
  ) {
    assert.equal(msFromRfc3339(bad), null, bad);
  }
});

Deno.test("integer and decimal-second times convert to ms without floats", () => {
  assert.equal(msFromIntegerText("1785312345677"), 1785312345677);
  assert.equal(msFromIntegerText("1583691851934999", 1000), 1583691851934);
  assert.equal(msFromIntegerText("1785312345677000"), null);
  assert.equal(msFromIntegerText("-1785312345677"), null);
  assert.equal(msFromSecondsText("1688669597.8277369"), 1688669597827);
  assert.equal(msFromSecondsText("1688669597"), 1688669597000);
  assert.equal(msFromSecondsText("1688669597.8"), 1688669597800);
  assert.equal(msFromSecondsText("1.688669597e9"), null);
});
