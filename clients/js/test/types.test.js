// Compiles test/usage.ts against the hand-written declarations with the TypeScript compiler.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL(".", import.meta.url));

test("the .d.ts files type-check a realistic use", () => {
  const tsc = require.resolve("typescript/bin/tsc");
  const args = [
    tsc,
    "--noEmit",
    "--strict",
    "--target",
    "es2022",
    "--module",
    "nodenext",
    "--lib",
    "es2022,dom",
    "--skipLibCheck",
    "false",
    "usage.ts",
  ];
  try {
    execFileSync(process.execPath, args, { cwd: here, encoding: "utf8" });
  } catch (error) {
    assert.fail(`tsc reported errors:\n${error.stdout}${error.stderr}`);
  }
});
