/** `iomt-gateway opcua trust|reject|list` as a technician runs them, from the sources. */
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDevPki, createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { cliCommand, runCli } from "../helpers/agent-process.js";
import { createTestCa } from "../helpers/opcua-ca.js";
import { tempDir } from "../helpers/tmp.js";

test("opcua trust, reject and list output", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    [
      "site: icu3",
      "gateway: gw-test",
      `dataDir: ${join(dir, "data")}`,
      "broker:",
      "  url: mqtts://localhost:8883",
      `  caFile: ${pki.ca.cert}`,
      `  certFile: ${pki.clients.gateway?.cert}`,
      `  keyFile: ${pki.clients.gateway?.key}`,
      "devices:",
      "  - { id: bed1, profile: masimo-radical7-ascii1, link: { kind: tcp, host: 127.0.0.1, port: 4001 } }",
      "",
    ].join("\n"),
  );
  const opcua = (...args: string[]) =>
    runCli(cliCommand("source"), ["opcua", ...args, "--config", configFile], dir);
  const scada = await createOpcuaCertificate(join(dir, "certs"), "scada", {
    applicationUri: "urn:scada",
  });

  const trusted = await opcua("trust", scada.cert);
  t.is(trusted.code, 0, trusted.output);
  t.regex(trusted.output, /^trusted application [0-9a-f]{40} CN=scada/m);
  const thumbprint = /application ([0-9a-f]{40})/.exec(trusted.output)?.[1] ?? "";
  t.is((await opcua("trust", scada.cert, "--user")).code, 0);

  const ambiguous = await opcua("reject", thumbprint);
  t.is(ambiguous.code, 2);
  t.regex(ambiguous.output, /both as an application and as a user; add --application or --user/);
  const rejected = await opcua("reject", thumbprint, "--user");
  t.is(rejected.code, 0, rejected.output);
  t.regex(rejected.output, /^rejected user [0-9a-f]{40}/m);

  const ca = await createTestCa(join(dir, "ca"));
  const issued = await ca.issue("historian", "urn:historian");
  const warned = await opcua("trust", issued.cert);
  t.is(warned.code, 0, warned.output);
  t.regex(warned.output, /warning: .*issued by CN=Test hospital CA.*issuers[\\/]certs/);

  const listed = await opcua("list");
  t.regex(listed.output, /trusted {2}application [0-9a-f]{40} CN=scada.*\(valid until /);
  t.regex(listed.output, /rejected user {8}[0-9a-f]{40} CN=scada/);
});

test("top-level help names opcua passwd", async (t) => {
  const { output } = await runCli(cliCommand("source"), ["--help"], tempDir(t));
  t.regex(output, /opcua list\|trust\|reject\|passwd/);
});
