/**
 * The OPC UA server: SignAndEncrypt endpoints, X.509 users, trust lists in dataDir, and one object
 * per device under Objects/Devices. Loaded on demand through handle.ts; never imported directly
 * by the rest of the agent.
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUAServer,
  SecurityPolicy,
  UserTokenType,
  nodesets,
} from "node-opcua";
import type { OpcuaConfig } from "../config/schema.js";
import { GatewayError, messageOf } from "../errors.js";
import { agentVersion } from "../version.js";
import type { Logger } from "../log.js";
import { restrictAccess } from "./access.js";
import { buildAddressSpace } from "./address-space.js";
import { verifyPassword } from "./passwords.js";
import type { OpcuaServerHandle, OpcuaServerOptions } from "./handle.js";
import { TrustListCertificateManager } from "./certificate-manager.js";
import { ensureStores, type StoreKind } from "./trust-store.js";

const policies: Record<OpcuaConfig["securityPolicies"][number], SecurityPolicy> = {
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
};

const modes: Record<OpcuaConfig["securityModes"][number], MessageSecurityMode> = {
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
  Sign: MessageSecurityMode.Sign,
};

export async function startOpcuaServer(options: OpcuaServerOptions): Promise<OpcuaServerHandle> {
  const { config, certificate, dataDir, log } = options;
  ensureStores(dataDir);
  const managerOf = async (store: StoreKind) => {
    const manager = new TrustListCertificateManager(dataDir, certificate.keyFile, store, log);
    await manager.initialize();
    return manager;
  };
  const server = new GatewayOpcuaServer({
    host: config.host,
    port: config.port,
    hostname: config.hostname ?? hostname(),
    certificateFile: certificate.certFile,
    privateKeyFile: certificate.keyFile,
    serverCertificateManager: await managerOf("applications"),
    userCertificateManager: await managerOf("users"),
    securityModes: config.securityModes.map((mode) => modes[mode]),
    securityPolicies: config.securityPolicies.map((policy) => policies[policy]),
    allowAnonymous: false,
    userManager: userManagerOf(config.usersFile, log),
    maxConnectionsPerEndpoint: config.maxSessions,
    serverCapabilities: { maxSessions: config.maxSessions },
    nodeset_filename: [standardNodeset()],
    serverInfo: {
      applicationUri: certificate.applicationUri,
      productUri: "urn:iomt-gateway",
      applicationName: { text: "iomt-gateway" },
    },
    buildInfo: {
      productName: "iomt-gateway",
      manufacturerName: "iomt-gateway",
      softwareVersion: agentVersion,
    },
  });
  try {
    await server.initialize();
  } catch (error) {
    throw new GatewayError(
      "CONFIG_INVALID",
      `opcua: the server could not start: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
  if (config.usersFile === undefined) withdrawUserNameTokens(server);
  const addressSpace = server.engine.addressSpace;
  if (addressSpace === null)
    throw new Error("opcua: the address space is missing after initialize");
  restrictAccess(addressSpace);
  const nodes = buildAddressSpace(addressSpace, options.devices);
  try {
    await server.start();
  } catch (error) {
    throw new GatewayError(
      "CONFIG_INVALID",
      `opcua: cannot listen on ${config.host}:${config.port} (${messageOf(error)}); ` +
        "choose a free opcua.port or stop what uses it",
      { cause: error },
    );
  }
  const endpointUrl = server.getEndpointUrl();
  log.info("opcua server listening", { endpointUrl, host: config.host, port: config.port });
  return {
    endpointUrl,
    sinkFor: (deviceId) => {
      const node = nodes.get(deviceId);
      if (node === undefined) throw new Error(`opcua: no object for device ${deviceId}`);
      return node;
    },
    stop: () => server.shutdown(0),
  };
}

/**
 * node-opcua's server without its start-up check of the certificate's subjectAltName (warning
 * NODE-OPCUA-W26 in 2.182.2). That check expects the machine's own names, ignores the configured
 * hostname and suggests regenerating a self-signed certificate. readOpcuaCertificate checks
 * opcua.hostname instead and names the setting to change.
 */
class GatewayOpcuaServer extends OPCUAServer {
  override checkCertificateSAN(): string[] {
    return [];
  }
}

/**
 * Removes the user name token policies from every endpoint when no opcua.usersFile is set, so
 * clients are offered only X.509 users. node-opcua 2.182.2 has no option for the token types.
 */
function withdrawUserNameTokens(server: OPCUAServer): void {
  for (const endpoint of server.endpoints) {
    for (const description of endpoint.endpointDescriptions()) {
      description.userIdentityTokens = (description.userIdentityTokens ?? []).filter(
        (token) => token.tokenType !== UserTokenType.UserName,
      );
    }
  }
}

/** Checks user names against opcua.usersFile; without it every user name is rejected. */
function userManagerOf(usersFile: string | undefined, log: Logger) {
  return {
    isValidUserAsync: (
      name: string,
      password: string,
      done: (error: Error | null, valid?: boolean) => void,
    ) => {
      const checked =
        usersFile === undefined
          ? Promise.resolve(false)
          : verifyPassword(usersFile, name, password);
      checked.then(
        (valid) => {
          if (!valid) log.warn("opcua user name login rejected", { user: name });
          done(null, valid);
        },
        (error: unknown) => {
          log.warn("opcua password check failed", { user: name, error: messageOf(error) });
          done(null, false);
        },
      );
    },
  };
}

/** Returns the standard nodeset beside the bundle (dist/nodesets), else the one in node_modules. */
function standardNodeset(): string {
  const bundled = join(__dirname, "nodesets", "Opc.Ua.NodeSet2.xml");
  return existsSync(bundled) ? bundled : nodesets.standard;
}
