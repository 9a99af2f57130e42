// schema.ts (the types and the enum value lists) must be exactly what
// openapi-typescript makes of the committed openapi.json
// (tests/browser/test_generated_api.py checks openapi.json against the Python
// app): nobody hand-edits the API types.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { generate, OPENAPI, SCHEMA_TS } from "../../scripts/gen-api.mjs";

describe("generated API types", () => {
  it("are current with openapi.json (run scripts/gen-frontend-api.sh)", async () => {
    const [openapi, committed] = await Promise.all([readFile(OPENAPI, "utf8"), readFile(SCHEMA_TS, "utf8")]);
    expect(committed === (await generate(openapi)), "frontend/src/api/schema.ts is stale: run scripts/gen-frontend-api.sh").toBe(true);
  });
});
