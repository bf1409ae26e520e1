/** Loads and validates the agent's configuration file, reporting every problem at once. */
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { duplicateDeviceProblems } from "./duplicates.js";
import { configSchema, type GatewayConfig } from "./schema.js";
import {
  positionOf,
  problemsFromIssues,
  yamlErrorMessage,
  type Locate,
  type Problem,
} from "./problems.js";
import { readYamlFile } from "./yaml-file.js";

export type ConfigResult =
  | { ok: true; config: GatewayConfig; file: string; sha256: string; locate: Locate }
  | {
      ok: false;
      problems: Problem[];
      /** Present when the file is valid YAML, so later checks can still read its settings. */
      unvalidated?: { value: unknown; locate: Locate };
    };

export function loadConfig(file: string): ConfigResult {
  const read = readYamlFile(file);
  if (!read.ok) return read;
  const { yaml } = read;
  const locate: Locate = (path) => positionOf(yaml.document, yaml.lines, path);
  const parsed = configSchema.safeParse(yaml.value, { error: yamlErrorMessage });
  const problems = parsed.success
    ? []
    : problemsFromIssues(file, parsed.error.issues, yaml.document, yaml.lines, yaml.value);
  problems.push(...duplicateDeviceProblems(file, yaml.value, locate));
  if (!parsed.success || problems.length > 0) {
    return { ok: false, problems, unvalidated: { value: yaml.value, locate } };
  }
  const sha256 = createHash("sha256").update(yaml.text).digest("hex");
  const config = resolvePaths(parsed.data, file);
  return { ok: true, config, file, sha256, locate };
}

/** Makes a file setting absolute, relative to the configuration file's folder. */
export function resolveSetting(configFile: string, path: string): string {
  return resolve(dirname(resolve(configFile)), path);
}

function resolvePaths(config: GatewayConfig, configFile: string): GatewayConfig {
  const at = (path: string) => resolveSetting(configFile, path);
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
    opcua: {
      ...config.opcua,
      certFile: config.opcua.certFile === undefined ? undefined : at(config.opcua.certFile),
      keyFile: config.opcua.keyFile === undefined ? undefined : at(config.opcua.keyFile),
      usersFile: config.opcua.usersFile === undefined ? undefined : at(config.opcua.usersFile),
    },
  };
}
