/**
 * The OPC UA world shared by the source and bundle tests: the agent with its OPC UA server on a
 * free loopback port, over the main-job world (scenario.ts), and client certificates of which
 * the technician trusted one application and one user before the start.
 */
import type { ExecutionContext } from "ava";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { AttributeIds, type ClientSession, type DataValue } from "node-opcua";
import { setPassword } from "../../src/opcua/passwords.js";
import { createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { runCli } from "../helpers/agent-process.js";
import { createTestCa } from "../helpers/opcua-ca.js";
import { freeLoopbackPort } from "../helpers/ports.js";
import type { ClientOptions } from "../helpers/opcua-client.js";
import { tempDir } from "../helpers/tmp.js";
import { buildWorld, startAgentIn, type World } from "./scenario.js";

export const serverUri = "urn:iomt-gateway:test";
/** A user of opcua.usersFile, as `iomt-gateway opcua passwd` writes it. */
export const passwordUser = { userName: "charge-nurse", password: "a long test password" };
export const spo2 = "ns=1;s=bed12-spo2.MDC_PULS_OXIM_SAT_O2";
/** makeEUInformation's unitId for the UNECE code P1 (percent): the code's bytes as an integer. */
export const percentUnitId = ("P".charCodeAt(0) << 8) | "1".charCodeAt(0);

export interface Setup {
  /** The CLI command: from the sources or the bundle. */
  command: string[];
  world: World;
  endpointUrl: string;
  dir: string;
  trusted: ClientOptions["application"];
  untrusted: ClientOptions["application"];
  user: { cert: string; key: string };
  unknownUser: { cert: string; key: string };
  /** A client application issued by a CA whose certificate and CRL are in issuers/. */
  caIssued: ClientOptions["application"];
  /** Everything the agent wrote to stdout and stderr so far. */
  agentOutput(): string;
}

export async function setUpOpcua(t: ExecutionContext, command: string[]): Promise<Setup> {
  const dir = tempDir(t);
  const certs = join(dir, "opcua-certs");
  const server = await createOpcuaCertificate(certs, "gateway-opcua", {
    applicationUri: serverUri,
  });
  const application = (name: string) =>
    createOpcuaCertificate(certs, name, { applicationUri: `urn:test:${name}` }).then((paths) => ({
      ...paths,
      uri: `urn:test:${name}`,
    }));
  const trusted = await application("scada");
  const untrusted = await application("visitor");
  const user = await createOpcuaCertificate(certs, "nurse-station");
  const unknownUser = await createOpcuaCertificate(certs, "stranger");
  const port = await freeLoopbackPort();
  const usersFile = join(dir, "opcua-users");
  setPassword(usersFile, passwordUser.userName, passwordUser.password);
  const world = await buildWorld(t, {
    settings: [
      "opcua:",
      "  enabled: true",
      "  host: 127.0.0.1",
      "  hostname: localhost",
      `  port: ${port}`,
      `  applicationUri: ${serverUri}`,
      `  certFile: ${server.cert}`,
      `  keyFile: ${server.key}`,
      `  usersFile: ${usersFile}`,
    ].join("\n"),
  });
  // The technician trusts the client application and the user before the first start.
  await opcuaCli(t, command, world, ["trust", trusted.cert]);
  await opcuaCli(t, command, world, ["trust", user.cert, "--user"]);
  // And lets the chain of the hospital CA's applications be checked, as docs/opcua.md says.
  const ca = await createTestCa(join(dir, "hospital-ca"));
  const caIssued = {
    ...(await ca.issue("historian", "urn:test:historian")),
    uri: "urn:test:historian",
  };
  const issuers = join(world.dir, "data", "opcua", "applications", "issuers");
  copyFileSync(ca.cert, join(issuers, "certs", "hospital-ca.pem"));
  copyFileSync(ca.crl, join(issuers, "crl", "hospital-ca.crl"));
  const agent = startAgentIn(t, world, command);
  await waitUntil(
    () => {
      if (agent.child.exitCode !== null)
        throw new Error(`agent exited: ${agent.output().slice(-2000)}`);
      return agent.output().includes("opcua server listening");
    },
    30_000,
    "OPC UA listening",
  );
  return {
    command,
    world,
    endpointUrl: `opc.tcp://localhost:${port}`,
    dir,
    trusted,
    untrusted,
    user,
    unknownUser,
    caIssued,
    agentOutput: () => agent.output(),
  };
}

export async function opcuaCli(
  t: ExecutionContext,
  command: string[],
  world: World,
  args: string[],
): Promise<string> {
  const { code, output } = await runCli(
    command,
    ["opcua", ...args, "--config", world.configFile],
    world.dir,
  );
  t.is(code, 0, output);
  return output;
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

export async function readValue(session: ClientSession, nodeId: string): Promise<DataValue> {
  return session.read({ nodeId, attributeId: AttributeIds.Value }, 0);
}
