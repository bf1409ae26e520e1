import test from "ava";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { cliCommand, repoRoot, runCli, startCli } from "../helpers/agent-process.js";
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
  t.false(existsSync(join(dir, "data")), "check creates no dataDir");
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

test("check rejects a dataDir under /proc without hanging", async (t) => {
  const { dir, file, config } = await setup(t);
  writeFileSync(file, config("mqtts://localhost:8883").replace(join(dir, "data"), "/proc/iomt"));
  const child = startCli(cliCommand("source"), ["check", "--config", file], dir);
  // A recursive mkdir under /proc does not return, so a check that hangs is stopped and fails.
  const timer = setTimeout(() => void child.stop(), 20_000);
  const code = await child.exited;
  clearTimeout(timer);
  t.is(code, 1, child.output());
  t.regex(child.output(), /config\.yaml:3:10: dataDir: \/proc\/iomt is under \/proc/);
});

test("check names a profile that overrides a built-in one", async (t) => {
  const { dir, file, config } = await setup(t);
  mkdirSync(join(dir, "profiles"));
  const builtIn = join(repoRoot, "firmware-profiles", "masimo-radical7-ascii1.yaml");
  copyFileSync(builtIn, join(dir, "profiles", "site-radical7.yaml"));
  writeFileSync(file, `${config("mqtts://localhost:8883")}profilesDir: profiles\n`);
  const { code, output } = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(code, 0, output);
  t.true(
    output.includes(
      `profile masimo-radical7-ascii1: ${join(dir, "profiles", "site-radical7.yaml")} ` +
        `overrides the built-in profile ${builtIn}`,
    ),
    output,
  );
});

test("repeated --config is a usage error", async (t) => {
  const { dir, file, config } = await setup(t);
  writeFileSync(file, config("mqtts://localhost:8883"));
  const args = ["check", "--config", file, "-c", file];
  const { code, output } = await runCli(cliCommand("source"), args, dir);
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: --config was given 2 times; give it once/);
});

test("simulate rejects a TCP port above 65535", async (t) => {
  const args = ["simulate", "--profile", "masimo-radical7-ascii1", "--tcp-port", "70000"];
  const { code, output } = await runCli(cliCommand("source"), args, tempDir(t));
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: --tcp-port must be a whole number from 0 to 65535 \(got "70000"\)/);
});

test("profiles rejects a missing --profiles-dir", async (t) => {
  const dir = tempDir(t);
  const args = ["profiles", "--profiles-dir", join(dir, "absent")];
  const { code, output } = await runCli(cliCommand("source"), args, dir);
  t.is(code, 2);
  t.regex(output, /CLI_USAGE: --profiles-dir: .*absent does not exist/);
});

test("check names a damaged outbox database", async (t) => {
  const { dir, file, config } = await setup(t);
  writeFileSync(file, config("mqtts://localhost:8883"));
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "data", "outbox.sqlite"), Buffer.alloc(8192, 0x41));
  const { code, output } = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(code, 1);
  t.regex(output, /dataDir: outbox .*outbox\.sqlite cannot be opened .*move it aside/);
});
