import test from "ava";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { cliCommand, runCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
  const client = pki.clients.gateway;
  const config = (url: string) => `site: icu3
gateway: gw-test
dataDir: ${join(dir, "data")}
broker:
  url: ${url}
  caFile: ${pki.ca.cert}
  certFile: ${client?.cert}
  keyFile: ${client?.key}
devices:
  - id: bed1
    profile: masimo-radical7-ascii1
    link: { kind: tcp, host: 127.0.0.1, port: 4001 }
`;
  const file = join(dir, "config.yaml");
  return { dir, pki, file, config, key: client?.key ?? "" };
}

test("run refuses a plain mqtt URL before starting", async (t) => {
  const { dir, file, config } = await setup(t);
  writeFileSync(file, config("mqtt://127.0.0.1:1883"));
  const { code, output } = await runCli(cliCommand("source"), ["run", "--config", file], dir);
  t.is(code, 1);
  t.regex(output, /CONFIG_INVALID: not starting/);
  t.regex(
    output,
    /config\.yaml:5:\d+: broker\.url: must start with mqtts:\/\/.*\(got "mqtt:\/\/127\.0\.0\.1:1883"\)/,
  );
});

test("check passes a valid configuration", async (t) => {
  const { dir, file, config } = await setup(t);
  writeFileSync(file, config("mqtts://localhost:8883"));
  const { code, output } = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(code, 0, output);
  t.regex(output, /valid/);
  t.regex(output, /device bed1: Masimo Radical-7/);
});

test("check names every certificate and profile problem at once", async (t) => {
  const { dir, file, config, key, pki } = await setup(t);
  chmodSync(key, 0o644);
  const text = config("mqtts://localhost:8883")
    .replace(pki.ca.cert, pki.rogueCa.cert)
    .replace("masimo-radical7-ascii1", "masimo-rad99");
  writeFileSync(file, text);
  const { code, output } = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(code, 1);
  t.regex(output, /3 problem\(s\)/);
  t.regex(output, /devices\[0\]\.profile: profile "masimo-rad99" was not found/);
  t.regex(output, /broker\.keyFile: .* can be read by other users \(mode 0644\); run chmod 600/);
  t.regex(output, /broker\.certFile: .* was not issued by a CA in/);
});

test("check rejects a key that does not belong to the certificate", async (t) => {
  const { dir, file, config, pki } = await setup(t);
  writeFileSync(
    file,
    config("mqtts://localhost:8883").replace(pki.clients.gateway?.key ?? "", pki.server.key),
  );
  chmodSync(pki.server.key, 0o600);
  const { code, output } = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(code, 1);
  t.regex(output, /is not the private key of/);
  t.true(readFileSync(pki.server.key, "utf8").includes("PRIVATE KEY"));
});

test("unknown command prints usage and exits 2", async (t) => {
  const { code, output } = await runCli(cliCommand("source"), ["frobnicate"], tempDir(t));
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: unknown command "frobnicate"/);
});

for (const command of ["run", "check", "simulate", "profiles"]) {
  test(`${command} --help describes its options`, async (t) => {
    const { code, output } = await runCli(cliCommand("source"), [command, "--help"], tempDir(t));
    t.is(code, 0);
    t.regex(output, new RegExp(`Usage: iomt-gateway ${command}`));
  });
}

test("missing option is a usage error with exit 2", async (t) => {
  const { code, output } = await runCli(cliCommand("source"), ["run"], tempDir(t));
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: missing --config/);
});
