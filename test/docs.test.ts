import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { formatProblem } from "../src/config/problems.js";
import { renderSchemas } from "../src/docs/schemas.js";

const docs = join(__dirname, "..", "docs");

for (const [name, text] of renderSchemas()) {
  test(`docs/schemas/${name} matches the code`, (t) => {
    const file = join(docs, "schemas", name);
    t.true(existsSync(file), `run npm run schemas to write ${name}`);
    t.is(readFileSync(file, "utf8"), text, "run npm run schemas and commit the result");
  });
}

test("asyncapi document describes every payload and only existing schemas", (t) => {
  const text = readFileSync(join(docs, "asyncapi.yaml"), "utf8");
  const refs = [...text.matchAll(/\$ref: "schemas\/([^"]+)"/g)].map((match) => match[1] ?? "");
  const payloads = renderSchemas()
    .map(([name]) => name)
    .filter((name) => name !== "config.schema.json" && name !== "profile.schema.json");
  t.deepEqual([...new Set(refs)].sort(), payloads.sort());
  const document = parse(text) as { channels: Record<string, unknown> };
  t.is(Object.keys(document.channels).length, payloads.length, "one channel per payload");
});

test("example configuration is valid", (t) => {
  const result = loadConfig(join(docs, "config.example.yaml"));
  t.true(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
});
