/**
 * The OPC UA server in-process, without the agent, for settings the end-to-end test's agent
 * does not have: here there is no opcua.usersFile.
 */
import test from "ava";
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
} from "node-opcua";
import { createLogger } from "../../src/log.js";
import { startOpcuaServer } from "../../src/opcua/server.js";
import { trustCertificate } from "../../src/opcua/trust-store.js";
import { createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { freeLoopbackPort } from "../helpers/ports.js";
import { tempDir } from "../helpers/tmp.js";

test("no usersFile: endpoints offer X.509 users only", async (t) => {
  const dir = tempDir(t);
  const certs = join(dir, "certs");
  const server = await createOpcuaCertificate(certs, "gateway", { applicationUri: "urn:gw" });
  const scada = await createOpcuaCertificate(certs, "scada", { applicationUri: "urn:scada" });
  const dataDir = join(dir, "data");
  trustCertificate(dataDir, scada.cert, "applications");
  const port = await freeLoopbackPort();
  const handle = await startOpcuaServer({
    config: {
      enabled: true,
      host: "127.0.0.1",
      hostname: "localhost",
      port,
      securityModes: ["SignAndEncrypt"],
      securityPolicies: ["Basic256Sha256"],
      maxSessions: 2,
    },
    certificate: {
      certFile: server.cert,
      keyFile: server.key,
      applicationUri: "urn:gw",
      notAfter: new Date().toISOString(),
      warnings: [],
    },
    dataDir,
    devices: [],
    log: createLogger({ level: "error", format: "json" }),
  });
  t.teardown(() => handle.stop());

  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: join(dir, "client-pki"),
  });
  const client = OPCUAClient.create({
    certificateFile: scada.cert,
    privateKeyFile: scada.key,
    clientCertificateManager,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 0 },
    endpointMustExist: false,
  });
  await client.connect(`opc.tcp://localhost:${port}`);
  t.teardown(() => client.disconnect());
  const endpoints = await client.getEndpoints();
  const secure = endpoints.filter((e) => e.securityMode === MessageSecurityMode.SignAndEncrypt);
  t.true(secure.length > 0);
  for (const endpoint of secure) {
    const types = (endpoint.userIdentityTokens ?? []).map((token) => token.tokenType);
    t.deepEqual(types, [UserTokenType.Certificate], endpoint.securityPolicyUri ?? "");
  }
});
