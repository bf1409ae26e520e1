/**
 * Writes docs/schemas/*.json from the zod schemas in src/, so the documents consumers read
 * cannot drift from the code. `npm run schemas` regenerates them; a test fails when they differ.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSchemas } from "../src/docs/schemas.js";

const dir = join(__dirname, "..", "docs", "schemas");
mkdirSync(dir, { recursive: true });
for (const [name, text] of renderSchemas()) {
  writeFileSync(join(dir, name), text);
  console.log(`wrote docs/schemas/${name}`);
}
