#!/usr/bin/env node
// Regenerates package.json's `contributes.configuration` from the server's config schema.
//   node scripts/generate-settings.mjs [--schema FILE|-] [--check]
// Without --schema it runs `aicockpit schema` with the project's Python
// ($AICOCKPIT_PYTHON, else ../.venv/bin/python). --check exits 1 when package.json
// is out of date (the drift test), without writing.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configurationFromSchema } from "./settings.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const extension = resolve(here, "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const schemaAt = args.indexOf("--schema");

function readSchema() {
  if (schemaAt >= 0) {
    const source = args[schemaAt + 1];
    return JSON.parse(readFileSync(source === "-" ? 0 : source, "utf8"));
  }
  const venv = resolve(extension, "..", ".venv", "bin", "python");
  const python = process.env.AICOCKPIT_PYTHON || (existsSync(venv) ? venv : "python3");
  const out = execFileSync(python, ["-m", "aicockpit", "schema"], { encoding: "utf8" });
  return JSON.parse(out);
}

const manifestPath = join(extension, "package.json");
const manifestText = readFileSync(manifestPath, "utf8");
const manifest = JSON.parse(manifestText);
const client = JSON.parse(readFileSync(join(here, "client-settings.json"), "utf8"));
manifest.contributes.configuration = configurationFromSchema(readSchema(), client);
const updated = JSON.stringify(manifest, null, 2) + "\n";

if (check) {
  if (updated !== manifestText) {
    console.error(
      "client-vscode/package.json settings are out of date with the server's config schema: " +
        "run `node client-vscode/scripts/generate-settings.mjs` and commit the result.",
    );
    process.exit(1);
  }
  console.log("settings are up to date");
} else {
  writeFileSync(manifestPath, updated);
  console.log(`wrote ${manifest.contributes.configuration.length} setting categories`);
}
