/**
 * A real node-opcua client for the OPC UA tests: its own application certificate and trust
 * folder, one connection attempt, and an optional X.509 user.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from "node-opcua";
import { convertPEMtoDER, keyOperationsFromPrivateKey, readPrivateKey } from "node-opcua-crypto";
import type { CertificatePaths } from "../../src/pki/dev-ca.js";

export interface ClientOptions {
  endpointUrl: string;
  /** Folder for the client's own trust lists (it accepts the server's certificate). */
  dir: string;
  application: CertificatePaths & { uri: string };
  user?: CertificatePaths | { userName: string; password: string } | "anonymous";
  securityMode?: MessageSecurityMode;
  securityPolicy?: SecurityPolicy;
}

export interface Connected {
  client: OPCUAClient;
  session: ClientSession;
  close(): Promise<void>;
}

export async function connectOpcua(options: ClientOptions): Promise<Connected> {
  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: join(options.dir, "client-pki"),
    automaticallyAcceptUnknownCertificate: true,
  });
  await clientCertificateManager.initialize();
  const client = OPCUAClient.create({
    applicationName: "iomt-gateway test client",
    applicationUri: options.application.uri,
    certificateFile: options.application.cert,
    privateKeyFile: options.application.key,
    clientCertificateManager,
    securityMode: options.securityMode ?? MessageSecurityMode.SignAndEncrypt,
    securityPolicy: options.securityPolicy ?? SecurityPolicy.Basic256Sha256,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    endpointMustExist: true,
  });
  try {
    await client.connect(options.endpointUrl);
    const session = await client.createSession(identityOf(options.user));
    return {
      client,
      session,
      close: async () => {
        await session.close();
        await client.disconnect();
      },
    };
  } catch (error) {
    await client.disconnect();
    throw error;
  }
}

function identityOf(user: ClientOptions["user"]): UserIdentityInfo {
  if (user === undefined || user === "anonymous") return { type: UserTokenType.Anonymous };
  if ("userName" in user) return { type: UserTokenType.UserName, ...user };
  return {
    type: UserTokenType.Certificate,
    certificateData: convertPEMtoDER(readFileSync(user.cert, "utf8")),
    keyOperations: keyOperationsFromPrivateKey(readPrivateKey(user.key)),
  };
}
