/**
 * The demo's OPC UA part (`npm start -- --opcua`): a server certificate from the development
 * PKI, and a client application and an X.509 user that the demo trusts as a technician would,
 * for a viewer that reads values through the secure endpoint.
 */
import { join } from "node:path";
import { trustCertificate } from "../../src/opcua/trust-store.js";
import { createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { connectOpcua, type ClientOptions } from "../../test/helpers/opcua-client.js";
import { freeLoopbackPort } from "../../test/helpers/ports.js";

const serverUri = "urn:iomt-gateway:demo:gw-demo";

export interface DemoOpcua {
  /** The `opcua:` section of the demo configuration. */
  settings: string;
  viewer: ClientOptions;
}

/**
 * node-opcua's client warns (NODE-OPCUA-W05) at every connection when a certificate is near its
 * expiry, so the demo's certificates last longer than any demo run.
 */
const demoDays = 30;

export async function prepareDemoOpcua(dir: string, dataDir: string): Promise<DemoOpcua> {
  const certs = join(dir, "opcua");
  const server = await createOpcuaCertificate(certs, "gw-demo-opcua", {
    applicationUri: serverUri,
    days: demoDays,
  });
  const viewerUri = "urn:iomt-gateway:demo:viewer";
  const client = await createOpcuaCertificate(certs, "demo-viewer", {
    applicationUri: viewerUri,
    days: demoDays,
  });
  const user = await createOpcuaCertificate(certs, "demo-nurse", { days: demoDays });
  // What a technician does with `iomt-gateway opcua trust FILE`.
  trustCertificate(dataDir, client.cert, "applications");
  trustCertificate(dataDir, user.cert, "users");
  const port = await freeLoopbackPort();
  const settings =
    `opcua: { enabled: true, host: 127.0.0.1, hostname: localhost, port: ${port}, ` +
    `applicationUri: "${serverUri}", certFile: ${JSON.stringify(server.cert)}, ` +
    `keyFile: ${JSON.stringify(server.key)} }\n`;
  const viewer: ClientOptions = {
    endpointUrl: `opc.tcp://localhost:${port}`,
    dir: certs,
    application: { ...client, uri: viewerUri },
    user,
  };
  return { settings, viewer };
}

/** Reads a device's SpO2 over OPC UA once, as a line for the demo's output. */
export async function readOverOpcua(opcua: DemoOpcua, deviceId: string): Promise<string> {
  const connected = await connectOpcua(opcua.viewer);
  try {
    const variable = "MDC_PULS_OXIM_SAT_O2";
    const value = await connected.session.read({ nodeId: `ns=1;s=${deviceId}.${variable}` });
    const shown = value.value.value === null ? "no value" : String(value.value.value);
    return `opcua: ${deviceId} ${variable} = ${shown} (${value.statusCode.name}), read over SignAndEncrypt`;
  } finally {
    await connected.close();
  }
}
