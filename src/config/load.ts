/** Loads and validates the agent's configuration file, reporting every problem at once. */
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { configSchema, type GatewayConfig } from "./schema.js";
import { problemsFromIssues, yamlErrorMessage, type Problem } from "./problems.js";
import { readYamlFile } from "./yaml-file.js";

export type ConfigResult =
  | { ok: true; config: GatewayConfig; file: string; sha256: string }
  | { ok: false; problems: Problem[] };

export function loadConfig(file: string): ConfigResult {
  const read = readYamlFile(file);
  if (!read.ok) return read;
  const { yaml } = read;
  const parsed = configSchema.safeParse(yaml.value, { error: yamlErrorMessage });
  if (!parsed.success) {
    return {
      ok: false,
      problems: problemsFromIssues(
        file,
        parsed.error.issues,
        yaml.document,
        yaml.lines,
        yaml.value,
      ),
    };
  }
  const sha256 = createHash("sha256").update(yaml.text).digest("hex");
  return { ok: true, config: resolvePaths(parsed.data, dirname(resolve(file))), file, sha256 };
}

/** Makes file settings absolute, relative to the configuration file's folder. */
function resolvePaths(config: GatewayConfig, base: string): GatewayConfig {
  const at = (path: string) => resolve(base, path);
  return {
    ...config,
    dataDir: at(config.dataDir),
    profilesDir: config.profilesDir === undefined ? undefined : at(config.profilesDir),
    broker: {
      ...config.broker,
      caFile: at(config.broker.caFile),
      certFile: at(config.broker.certFile),
      keyFile: at(config.broker.keyFile),
    },
  };
}
