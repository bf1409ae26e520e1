/**
 * Everything the agent checks before it starts, shared by `run` and `check`: the configuration,
 * the profiles it names, the certificate files and the data folder. All problems at once.
 */
import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { dataDirProblem } from "./config/data-dir.js";
import { outboxFileName, outboxFileProblem } from "./outbox/store.js";
import { loadConfig, resolveSetting } from "./config/load.js";
import { isRecord, parsePath, type Locate, type Problem } from "./config/problems.js";
import type { GatewayConfig } from "./config/schema.js";
import { allowlistOf, uncoveredDestinationProblems } from "./egress/destinations.js";
import { blockedResolverProblems } from "./egress/resolvers.js";
import { checkSerialPath } from "./link/serial-path.js";
import { keyOwnerProblem, readTlsMaterial, type TlsMaterial } from "./mqtt/tls.js";
import { usersFileProblems } from "./opcua/passwords.js";
import {
  defaultApplicationUri,
  readOpcuaCertificate,
  securityModeProblems,
  type OpcuaCertificate,
} from "./opcua/certificate.js";
import {
  builtInProfileDirs,
  loadProfiles,
  profilesDirProblem,
  type LoadedProfile,
  type ProfileSet,
} from "./profiles/load.js";

export interface Prepared {
  config: GatewayConfig;
  configFile: string;
  configSha256: string;
  profiles: Map<string, LoadedProfile>;
  /** Profile files that are not used because an earlier one, usually in profilesDir, has their id. */
  profileOverrides: ProfileSet["overrides"];
  tls: TlsMaterial;
  /** The OPC UA server's certificate, when opcua.enabled. */
  opcua?: OpcuaCertificate;
  /** Findings that do not stop a start, such as a serial adapter that is unplugged now. */
  warnings: Problem[];
}

export { keyOwnerProblem };

export type PreflightResult = { ok: true; prepared: Prepared } | { ok: false; problems: Problem[] };

/**
 * Checks everything before a start. `run` creates a missing dataDir when nothing else is wrong,
 * while `check` only looks, so a check run as root leaves no root-owned folder behind.
 */
export function preflight(configFile: string, mode: "run" | "check" = "run"): PreflightResult {
  const loaded = loadConfig(configFile);
  if (!loaded.ok) {
    if (loaded.unvalidated === undefined) return loaded;
    const { value, locate } = loaded.unvalidated;
    const problems = [
      ...loaded.problems,
      ...unvalidatedProfileProblems(configFile, value, loaded.problems),
    ];
    return { ok: false, problems: withPositions(problems, configFile, locate) };
  }
  const { config, locate } = loaded;

  // `run` reads only the profiles its devices name; `check` reads them all, so a technician
  // learns of a broken profile before a device uses it.
  const only = mode === "run" ? new Set(config.devices.map((device) => device.profile)) : undefined;
  let profileSet = loadConfiguredProfiles(configFile, config.profilesDir, only);
  // A profile that was not found is reported with every id there is, so all are read then.
  if (config.devices.some((device) => !profileSet.profiles.has(device.profile))) {
    profileSet = loadConfiguredProfiles(configFile, config.profilesDir);
  }
  const problems = [
    ...profileSet.problems,
    ...missingProfiles(configFile, config.devices, profileSet.profiles, new Set()),
    ...uncoveredDestinationProblems(config, configFile),
    ...(mode === "check" || config.egress?.firewall.manage === true
      ? blockedResolverProblems(config, allowlistOf(config), configFile)
      : []),
  ];
  const tls = readTlsMaterial(config.broker, configFile, { uid: process.getuid?.() });
  if (!tls.ok) problems.push(...tls.problems);
  const opcua = opcuaProblems(config, configFile);
  problems.push(...opcua.problems);
  const serial = serialPathFindings(config, configFile);
  problems.push(...serial.problems);
  // Last, so that a start refused for another reason leaves no folder behind.
  const create = mode === "run" && problems.length === 0 && tls.ok;
  const dataDir = dataDirProblem(config.dataDir, create);
  if (dataDir !== undefined) problems.push({ file: configFile, path: "dataDir", message: dataDir });
  const outbox = outboxFileProblem(join(config.dataDir, outboxFileName));
  if (outbox !== undefined) problems.push({ file: configFile, path: "dataDir", message: outbox });

  if (problems.length > 0 || !tls.ok) {
    return { ok: false, problems: withPositions(problems, configFile, locate) };
  }
  return {
    ok: true,
    prepared: {
      config,
      configFile,
      configSha256: loaded.sha256,
      profiles: profileSet.profiles,
      profileOverrides: profileSet.overrides,
      tls: tls.tls,
      ...(opcua.certificate === undefined ? {} : { opcua: opcua.certificate }),
      warnings: withPositions(serial.warnings, configFile, locate),
    },
  };
}

/**
 * Checks each serial link's path without opening it. A path that does not exist is a warning,
 * because a USB adapter may be unplugged while the gateway is set up; `run` retries it.
 */
function serialPathFindings(
  config: GatewayConfig,
  configFile: string,
): { problems: Problem[]; warnings: Problem[] } {
  const findings = { problems: [] as Problem[], warnings: [] as Problem[] };
  const ports = new Map<string, number>();
  config.devices.forEach((device, index) => {
    if (device.link.kind !== "serial") return;
    const path = `devices[${index}].link.path`;
    const checked = checkSerialPath(device.link.path);
    if (!checked.ok) {
      const problem = { file: configFile, path, message: checked.message };
      (checked.missing ? findings.warnings : findings.problems).push(problem);
      return;
    }
    // The configuration check compares the paths as written. Two paths that differ can still
    // name one port, such as a /dev/serial/by-id link and its /dev/ttyUSB node.
    const port = realPath(device.link.path);
    if (port === undefined) return;
    const first = ports.get(port);
    if (first === undefined) {
      ports.set(port, index);
      return;
    }
    const other = config.devices[first]?.link;
    if (other?.kind !== "serial" || other.path === device.link.path) return;
    findings.problems.push({
      file: configFile,
      path,
      message:
        `${device.link.path} is the same serial port as devices[${first}].link.path ` +
        `${other.path} (both are ${port}); give each device its own port`,
    });
  });
  return findings;
}

/** Returns the path with every link resolved, or undefined when it cannot be resolved. */
function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Checks the OPC UA server's certificate and key, only when the server is enabled. */
function opcuaProblems(
  config: GatewayConfig,
  configFile: string,
): { problems: Problem[]; certificate?: OpcuaCertificate } {
  if (!config.opcua.enabled) return { problems: [] };
  const uri = config.opcua.applicationUri ?? defaultApplicationUri(config.site, config.gateway);
  const read = readOpcuaCertificate(config.opcua, uri, configFile);
  const problems = read.ok ? [] : read.problems;
  for (const message of securityModeProblems(config.opcua)) {
    problems.push({ file: configFile, path: "opcua.securityModes", message });
  }
  const owner =
    config.opcua.keyFile === undefined
      ? undefined
      : keyOwnerProblem(config.opcua.keyFile, process.getuid?.());
  if (owner !== undefined)
    problems.push({ file: configFile, path: "opcua.keyFile", message: owner });
  const { usersFile } = config.opcua;
  if (usersFile !== undefined) {
    for (const message of [...usersFileProblems(usersFile), ...otherUsersCanRead(usersFile)]) {
      problems.push({ file: configFile, path: "opcua.usersFile", message });
    }
  }
  return read.ok && problems.length === 0
    ? { problems, certificate: read.certificate }
    : { problems };
}

/** Password hashes can be attacked offline, so the file must be private like a key. */
function otherUsersCanRead(file: string): string[] {
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) return [];
    const octal = mode.toString(8).padStart(4, "0");
    return [`${file} can be read by other users (mode ${octal}); run chmod 600 ${file}`];
  } catch {
    // usersFileProblems already reported a file that cannot be read.
    return [];
  }
}

/**
 * Checks the profiles of a configuration that failed validation, from the settings as written,
 * so that one `check` lists these problems together with the schema's. A setting the schema
 * already reported is not checked again.
 */
function unvalidatedProfileProblems(
  configFile: string,
  value: unknown,
  reported: readonly Problem[],
): Problem[] {
  if (!isRecord(value)) return [];
  const dir = value.profilesDir;
  // Without a valid profilesDir, every profile in it would be reported as not found.
  if (dir !== undefined && (typeof dir !== "string" || dir === "")) return [];
  const profilesDir = dir === undefined ? undefined : resolveSetting(configFile, dir);
  const profileSet = loadConfiguredProfiles(configFile, profilesDir);
  const reportedPaths = new Set(reported.map((problem) => problem.path));
  return [
    ...profileSet.problems,
    ...missingProfiles(configFile, value.devices, profileSet.profiles, reportedPaths),
  ];
}

/** Loads profilesDir, when set, and the built-in profiles; profilesDir's problems come first. */
function loadConfiguredProfiles(
  configFile: string,
  profilesDir: string | undefined,
  only?: ReadonlySet<string>,
): ProfileSet {
  const problem = profilesDir === undefined ? undefined : profilesDirProblem(profilesDir);
  const usable = profilesDir !== undefined && problem === undefined;
  const dirs = [...(usable ? [profilesDir] : []), ...builtInProfileDirs()];
  const profileSet = loadProfiles(dirs, only);
  if (problem === undefined) return profileSet;
  const message =
    `${problem}; set profilesDir to the folder that contains the site's profiles, ` +
    "or remove it to use only the built-in profiles";
  const problems = [{ file: configFile, path: "profilesDir", message }, ...profileSet.problems];
  return { ...profileSet, problems };
}

/** Reports every device entry whose `profile` text names no loaded profile. */
function missingProfiles(
  configFile: string,
  devices: unknown,
  profiles: ReadonlyMap<string, LoadedProfile>,
  reportedPaths: ReadonlySet<string>,
): Problem[] {
  if (!Array.isArray(devices)) return [];
  const known = [...profiles.keys()].join(", ") || "none";
  return devices.flatMap((device: unknown, index) => {
    const path = `devices[${index}].profile`;
    if (!isRecord(device) || typeof device.profile !== "string") return [];
    if (reportedPaths.has(path) || profiles.has(device.profile)) return [];
    const message =
      `profile ${JSON.stringify(device.profile)} was not found (known: ${known}); ` +
      "check the id or profilesDir";
    return [{ file: configFile, path, message }];
  });
}

/** Adds the line and column of its setting to each problem in the configuration file. */
/** Adds lines to the configuration file's problems and lists them in file and line order. */
function withPositions(problems: Problem[], configFile: string, locate: Locate): Problem[] {
  const located = problems.map((problem) => {
    if (problem.file !== configFile || problem.line !== undefined || problem.path === "") {
      return problem;
    }
    return { ...problem, ...locate(parsePath(problem.path)) };
  });
  return located.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
}
