/**
 * Everything the agent checks before it starts, shared by `run` and `check`: the configuration,
 * the profiles it names, the certificate files and the data folder. All problems at once.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { loadConfig } from "./config/load.js";
import type { Problem } from "./config/problems.js";
import type { GatewayConfig } from "./config/schema.js";
import { messageOf } from "./errors.js";
import { readTlsMaterial, type TlsMaterial } from "./mqtt/tls.js";
import { builtInProfileDirs, loadProfiles, type LoadedProfile } from "./profiles/load.js";

export interface Prepared {
  config: GatewayConfig;
  configFile: string;
  configSha256: string;
  profiles: Map<string, LoadedProfile>;
  tls: TlsMaterial;
}

export function preflight(
  configFile: string,
): { ok: true; prepared: Prepared } | { ok: false; problems: Problem[] } {
  const loaded = loadConfig(configFile);
  if (!loaded.ok) return loaded;
  const { config } = loaded;
  const problems: Problem[] = [];

  const dirs = [
    ...(config.profilesDir === undefined ? [] : [config.profilesDir]),
    ...builtInProfileDirs(),
  ];
  const profileSet = loadProfiles(dirs);
  problems.push(...profileSet.problems);
  config.devices.forEach((device, index) => {
    if (profileSet.profiles.has(device.profile)) return;
    const known = [...profileSet.profiles.keys()].join(", ") || "none";
    problems.push({
      file: configFile,
      path: `devices[${index}].profile`,
      message: `profile ${JSON.stringify(device.profile)} was not found (known: ${known}); check the id or profilesDir`,
    });
  });

  const tls = readTlsMaterial(config.broker, configFile);
  if (!tls.ok) problems.push(...tls.problems);
  problems.push(...checkDataDir(config.dataDir, configFile));

  if (problems.length > 0 || !tls.ok) return { ok: false, problems };
  return {
    ok: true,
    prepared: {
      config,
      configFile,
      configSha256: loaded.sha256,
      profiles: profileSet.profiles,
      tls: tls.tls,
    },
  };
}

function checkDataDir(dataDir: string, configFile: string): Problem[] {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK);
    return [];
  } catch (error) {
    return [
      {
        file: configFile,
        path: "dataDir",
        message: `${dataDir} is not a writable folder (${messageOf(error)}); create it for the agent's user`,
      },
    ];
  }
}
