import test from "ava";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nftPath } from "../../src/egress/firewall.js";
import { cliCommand, runCli } from "../helpers/agent-process.js";
import { networkPrivilegeProblem } from "../helpers/privileges.js";
import { tempDir } from "../helpers/tmp.js";

function writeConfig(dir: string, egress: string): string {
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `site: s1
gateway: g1
dataDir: ${join(dir, "data")}
broker: { url: "mqtts://127.0.0.1:8883", caFile: ca.crt, certFile: gw.crt, keyFile: gw.key }
devices:
  - { id: bed1, profile: masimo-radical7-ascii1, link: { kind: serial, path: /dev/ttyUSB0 } }
${egress}`,
  );
  return file;
}

test("firewall render prints a ruleset nft accepts", async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(
    dir,
    `egress:
  allowlist:
    - { host: 127.0.0.1, port: 8883, purpose: broker }
    - { host: 10.20.0.123, port: 123, protocol: udp, purpose: time }
`,
  );
  const { code, output } = await runCli(
    cliCommand("source"),
    ["firewall", "render", "--config", file],
    dir,
  );
  t.is(code, 0, output);
  t.regex(output, /table inet iomt_gateway \{/);
  t.regex(output, /ip daddr 10\.20\.0\.123 udp dport 123 accept/);
  if (networkPrivilegeProblem() !== undefined) return;
  const ruleset = join(dir, "ruleset.nft");
  writeFileSync(ruleset, output);
  const checked = spawnSync(nftPath(), ["-c", "-f", ruleset], { encoding: "utf8" });
  t.is(checked.status, 0, checked.stderr);
});

test("firewall refuses a configuration without allowlist", async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, "");
  const { code, output } = await runCli(
    cliCommand("source"),
    ["firewall", "apply", "--config", file],
    dir,
  );
  t.is(code, 1);
  t.regex(output, /has no egress\.allowlist/);
});

test("firewall refuses an allowlist without the broker", async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(
    dir,
    `egress:
  allowlist:
    - { host: 10.20.0.123, port: 123, protocol: udp, purpose: time }
`,
  );
  const { code, output } = await runCli(
    cliCommand("source"),
    ["firewall", "apply", "--config", file],
    dir,
  );
  t.is(code, 1);
  t.regex(output, /broker\.url: no allowlist entry for broker 127\.0\.0\.1:8883\/tcp/);
});

test("firewall refuses a ruleset that blocks DNS", async (t) => {
  const dir = tempDir(t);
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, "nameserver 10.0.0.54\n");
  const file = writeConfig(
    dir,
    `egress:
  allowlist:
    - { host: 127.0.0.1, port: 8883, purpose: broker }
    - { host: localhost, port: 4001, purpose: device-server }
  firewall: { resolvConf: ${resolvConf} }
`,
  );
  for (const action of ["render", "apply"]) {
    const { code, output } = await runCli(
      cliCommand("source"),
      ["firewall", action, "--config", file],
      dir,
    );
    t.is(code, 1, action);
    t.regex(output, /EGRESS_FIREWALL_UNSAFE: not applying the firewall because it would block DNS/);
    t.regex(output, /add \{ host: 10\.0\.0\.54, port: 53, protocol: udp, purpose: dns \}/);
  }
  const checked = await runCli(cliCommand("source"), ["check", "--config", file], dir);
  t.is(checked.code, 1);
  t.regex(checked.output, /egress\.allowlist: the resolver 10\.0\.0\.54 from .* has no dns entry/);
});
