#!/usr/bin/env node
// Generate src/schema.ts from ../../openapi.json with openapi-typescript (one place for the flags).
//   node scripts/generate.mjs          rewrite src/schema.ts
//   node scripts/generate.mjs --check  regenerate into a temp file; exit 1 if src/schema.ts differs
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const spec = resolve(here, "../../openapi.json");
const committed = resolve(here, "src/schema.ts");
const cli = resolve(here, "node_modules/openapi-typescript/bin/cli.js");
// Fields with a default stay optional in request bodies (the server fills them in).
const FLAGS = ["--default-non-nullable", "false"];

function generate(out) {
  execFileSync(process.execPath, [cli, spec, "-o", out, ...FLAGS], { cwd: here, stdio: "pipe" });
}

if (process.argv.includes("--check")) {
  const dir = mkdtempSync(join(tmpdir(), "weightinit-ts-"));
  try {
    const fresh = join(dir, "schema.ts");
    generate(fresh);
    const want = readFileSync(fresh, "utf8");
    let have = "";
    try {
      have = readFileSync(committed, "utf8");
    } catch {
      // missing counts as drift
    }
    if (want !== have) {
      const a = have.split("\n");
      const b = want.split("\n");
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      console.error(
        `src/schema.ts is out of date with openapi.json (first difference at line ${i + 1}):\n` +
          `  committed: ${JSON.stringify(a[i] ?? "<EOF>")}\n  generated: ${JSON.stringify(b[i] ?? "<EOF>")}\n` +
          "Run `make clients` (or `npm run generate` in clients/typescript) and commit the result.",
      );
      process.exit(1);
    }
    console.log("src/schema.ts is in sync with openapi.json");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  generate(committed);
  console.log(`wrote ${committed}`);
}
