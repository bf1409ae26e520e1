import test, { type ExecutionContext } from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatProblem } from "../../src/config/problems.js";
import { createDevPki, createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { preflight } from "../../src/preflight.js";
import { tempDir } from "../helpers/tmp.js";

async function configWith(dir: string, opcua: string): Promise<string> {
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `site: icu3
gateway: gw-test
dataDir: ${join(dir, "data")}
broker:
  url: mqtts://localhost:8883
  caFile: ${pki.ca.cert}
  certFile: ${pki.clients.gateway?.cert}
  keyFile: ${pki.clients.gateway?.key}
devices:
  - { id: bed1, profile: masimo-radical7-ascii1, link: { kind: tcp, host: 127.0.0.1, port: 4001 } }
opcua:
${opcua}
`,
  );
  return file;
}

const problemsOf = (file: string) => {
  const result = preflight(file, "check");
  return result.ok ? [] : result.problems.map(formatProblem);
};

test("an enabled OPC UA server with its certificate passes, and health gets its expiry", async (t) => {
  const dir = tempDir(t);
  const cert = await createOpcuaCertificate(join(dir, "opcua"), "opcua-server", {
    applicationUri: "urn:iomt-gateway:icu3:gw-test",
  });
  const file = await configWith(
    dir,
    `  enabled: true\n  certFile: ${cert.cert}\n  keyFile: ${cert.key}`,
  );
  const result = preflight(file, "check");
  t.true(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
  if (!result.ok) return;
  t.is(result.prepared.opcua?.applicationUri, "urn:iomt-gateway:icu3:gw-test");
  t.true(Date.parse(result.prepared.opcua?.notAfter ?? "") > Date.now());
});

test("a server certificate without the applicationUri is refused with the fix", async (t) => {
  const dir = tempDir(t);
  const cert = await createOpcuaCertificate(join(dir, "opcua"), "opcua-server", {
    applicationUri: "urn:somewhere:else",
  });
  const file = await configWith(
    dir,
    `  enabled: true\n  certFile: ${cert.cert}\n  keyFile: ${cert.key}`,
  );
  const [problem, ...rest] = problemsOf(file);
  t.deepEqual(rest, []);
  t.regex(problem ?? "", /opcua\.certFile/);
  t.regex(
    problem ?? "",
    /no subjectAltName URI urn:iomt-gateway:icu3:gw-test \(it has urn:somewhere:else\)/,
  );
  t.regex(problem ?? "", /set opcua\.applicationUri/);
});

test("an EC certificate, as the MQTT side uses, is refused for OPC UA", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "ec"), { clients: ["gateway"] });
  const file = await configWith(
    dir,
    `  enabled: true\n  certFile: ${pki.server.cert}\n  keyFile: ${pki.server.key}`,
  );
  const problems = problemsOf(file).join("\n");
  t.regex(problems, /has an EC key; the OPC UA security policies .* need an RSA key/);
});

test("enabling OPC UA without a certificate is a configuration problem", async (t) => {
  const dir = tempDir(t);
  const file = await configWith(dir, "  enabled: true");
  t.regex(problemsOf(file).join("\n"), /opcua.*certFile and keyFile are required when enabled/);
});

test("a disabled OPC UA section needs no certificate and checks none", async (t) => {
  const dir = tempDir(t);
  const file = await configWith(dir, "  enabled: false\n  certFile: /nonexistent.crt");
  t.deepEqual(problemsOf(file), []);
});

async function opcuaSettings(t: ExecutionContext, settings: string) {
  const dir = tempDir(t);
  const cert = await createOpcuaCertificate(join(dir, "opcua"), "opcua-server", {
    applicationUri: "urn:iomt-gateway:icu3:gw-test",
  });
  return configWith(
    dir,
    `  enabled: true\n  certFile: ${cert.cert}\n  keyFile: ${cert.key}\n${settings}`,
  );
}

const warningsOf = (file: string) => {
  const result = preflight(file, "check");
  return result.ok ? (result.prepared.opcua?.warnings ?? []) : result.problems.map(formatProblem);
};

test("hostname missing from the certificate is a warning", async (t) => {
  const missing = warningsOf(await opcuaSettings(t, "  hostname: gw-test.icu.example.org"));
  t.is(missing.length, 1);
  t.regex(
    missing[0] ?? "",
    /opcua\.hostname gw-test\.icu\.example\.org .* not in the subjectAltName .*\(it has DNS:localhost, IP Address:127\.0\.0\.1/,
  );
  t.regex(missing[0] ?? "", /Issue the certificate with DNS:gw-test\.icu\.example\.org/);
  t.deepEqual(warningsOf(await opcuaSettings(t, "  hostname: localhost")), []);
  t.deepEqual(warningsOf(await opcuaSettings(t, "  hostname: 127.0.0.1")), []);
});

test("Sign alone is refused, Sign beside encryption warns", async (t) => {
  const signOnly = problemsOf(
    await opcuaSettings(t, "  hostname: localhost\n  securityModes: [Sign]"),
  );
  t.is(signOnly.length, 1);
  t.regex(signOnly[0] ?? "", /opcua\.securityModes.*without SignAndEncrypt.*add SignAndEncrypt/);
  const both = warningsOf(
    await opcuaSettings(t, "  hostname: localhost\n  securityModes: [SignAndEncrypt, Sign]"),
  );
  t.is(both.length, 1);
  t.regex(both[0] ?? "", /lists Sign: clients may then read values unencrypted/);
});
