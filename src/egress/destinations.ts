/**
 * The agent's own destinations (the broker and the devices' tcp links) and the allowlist a
 * configuration enforces: egress.allowlist when written, else one derived from those
 * destinations so that a configuration written before the allowlist existed keeps working.
 */
import type { AllowlistEntry } from "../config/egress-schema.js";
import type { Problem } from "../config/problems.js";
import type { GatewayConfig } from "../config/schema.js";
import { Allowlist, type Destination } from "./allowlist.js";
import { EgressGuard } from "./guard.js";
import { systemLookup } from "./pinning.js";

export interface ConfiguredDestination {
  destination: Destination;
  /** The setting that names it, such as broker.url or devices[2].link. */
  setting: string;
}

const defaultMqttsPort = 8883;

/** Returns the broker's host (an IPv6 literal without brackets) and port from broker.url. */
export function brokerDestination(config: Pick<GatewayConfig, "broker">): Destination {
  const url = new URL(config.broker.url);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? defaultMqttsPort : Number(url.port),
    protocol: "tcp",
    purpose: "broker",
  };
}

export function configuredDestinations(
  config: Pick<GatewayConfig, "broker" | "devices">,
): ConfiguredDestination[] {
  const devices = config.devices.flatMap((device, index) =>
    device.link.kind === "tcp"
      ? [
          {
            destination: {
              host: device.link.host,
              port: device.link.port,
              protocol: "tcp" as const,
              purpose: "device-server" as const,
            },
            setting: `devices[${index}].link`,
          },
        ]
      : [],
  );
  return [{ destination: brokerDestination(config), setting: "broker.url" }, ...devices];
}

/** Builds the allowlist the agent enforces for this configuration. */
export function allowlistOf(config: Pick<GatewayConfig, "broker" | "devices" | "egress">) {
  if (config.egress !== undefined) return new Allowlist(config.egress.allowlist, "configured");
  const entries: AllowlistEntry[] = configuredDestinations(config).map(({ destination }) => ({
    host: destination.host,
    port: destination.port,
    protocol: destination.protocol,
    purpose: destination.purpose,
  }));
  return new Allowlist(entries, "derived");
}

/**
 * Reports each configured destination that egress.allowlist does not cover, so `check` and
 * `run` stop before the agent tries a connection it would deny. A named destination counts as
 * covered when an entry has its name, since its addresses are known only once it resolves.
 */
export function uncoveredDestinationProblems(
  config: Pick<GatewayConfig, "broker" | "devices" | "egress" | "opcua">,
  configFile: string,
): Problem[] {
  if (config.egress === undefined) return [];
  const allowlist = allowlistOf(config);
  const problems = configuredDestinations(config).flatMap(({ destination, setting }) => {
    const decision = allowlist.authorize(destination, true);
    if (decision.ok) return [];
    return [{ file: configFile, path: setting, message: decision.reason }];
  });
  const { opcua } = config;
  const admitsOpcua = allowlist.rules.some(
    (rule) => rule.entry.purpose === "opcua-client" && rule.entry.port === opcua.port,
  );
  if (opcua.enabled && !admitsOpcua) {
    problems.push({
      file: configFile,
      path: "opcua.port",
      message:
        `no egress.allowlist entry admits OPC UA clients to port ${opcua.port}, so the ` +
        `firewall would drop them; add { host: CLIENT-NETWORK, port: ${opcua.port}, ` +
        "purpose: opcua-client }",
    });
  }
  return problems;
}

/**
 * Returns a guard that allows only the broker, with its name resolved now: for tools that
 * publish without a full configuration, such as the benchmarks.
 */
export async function brokerOnlyGuard(broker: GatewayConfig["broker"]): Promise<EgressGuard> {
  const allowlist = allowlistOf({ broker, devices: [], egress: undefined });
  for (const name of allowlist.names()) allowlist.pin(name, await systemLookup(name));
  return new EgressGuard(allowlist);
}
