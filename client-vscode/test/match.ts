import * as assert from "node:assert/strict";

/** Asserts that `actual` has at least the fields of `expected` (recursively), like a partial deepEqual. */
export function assertMatch(actual: unknown, expected: unknown, path = "$"): void {
  if (expected instanceof RegExp) {
    assert.match(String(actual), expected, path);
    return;
  }
  if (expected && typeof expected === "object" && !Array.isArray(expected)) {
    assert.ok(actual && typeof actual === "object", `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      assertMatch((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
    return;
  }
  assert.deepEqual(actual, expected, path);
}

export function assertIncludes(haystack: string | readonly string[], needle: string): void {
  assert.ok(haystack.includes(needle), `${JSON.stringify(haystack)} does not include ${JSON.stringify(needle)}`);
}

export function assertExcludes(haystack: string, needle: string): void {
  assert.ok(!haystack.includes(needle), `${JSON.stringify(haystack)} includes ${JSON.stringify(needle)}`);
}
