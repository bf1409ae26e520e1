import test from "ava";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setPassword, usersFileProblems, verifyPassword } from "../../src/opcua/passwords.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { cliCommand, repoRoot } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

test("passwords verify against their scrypt hashes", async (t) => {
  const file = join(tempDir(t), "users");
  setPassword(file, "nurse.station", "correct horse battery");
  setPassword(file, "scada", "another long password");
  t.is(statSync(file).mode & 0o777, 0o600);
  t.false(readFileSync(file, "utf8").includes("correct horse"), "only the hash is stored");
  t.true(await verifyPassword(file, "nurse.station", "correct horse battery"));
  t.false(await verifyPassword(file, "nurse.station", "correct horse batterY"));
  t.false(await verifyPassword(file, "nobody", "correct horse battery"));
  t.deepEqual(usersFileProblems(file), []);

  setPassword(file, "nurse.station", "a changed password");
  t.false(await verifyPassword(file, "nurse.station", "correct horse battery"));
  t.true(await verifyPassword(file, "nurse.station", "a changed password"));
  t.true(await verifyPassword(file, "scada", "another long password"));
});

test("short passwords and bad lines are rejected", (t) => {
  const file = join(tempDir(t), "users");
  t.throws(() => setPassword(file, "nurse", "short"), { message: /at least 12 characters/ });
  t.throws(() => setPassword(file, "bad:name", "long enough password"), {
    message: /user name "bad:name"/,
  });
  writeFileSync(file, "nurse:plain:secret\n", { mode: 0o600 });
  t.deepEqual(usersFileProblems(file), [
    `${file} line 1 is not name:scrypt:N:r:p:salt:hash; write it with iomt-gateway opcua passwd`,
  ]);
  writeFileSync(file, "nurse:scrypt:4194304:8:1:AAAA:AAAA\n", { mode: 0o600 });
  t.regex(usersFileProblems(file)[0] ?? "", /scrypt costs out of range/);
});

test("opcua passwd reads the password from standard input", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
  const usersFile = join(dir, "opcua-users");
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    `site: icu3\ngateway: gw\ndataDir: ${join(dir, "data")}\n` +
      `broker: { url: "mqtts://localhost:8883", caFile: "${pki.ca.cert}", ` +
      `certFile: "${pki.clients.gateway?.cert}", keyFile: "${pki.clients.gateway?.key}" }\n` +
      `opcua: { usersFile: ${usersFile} }\n` +
      "devices:\n  - { id: d1, profile: masimo-radical7-ascii1, link: { kind: tcp, host: 127.0.0.1, port: 4001 } }\n",
  );
  const result = spawnSync(
    process.execPath,
    [...cliCommand("source"), "opcua", "passwd", "charge-nurse", "--config", configFile],
    { cwd: repoRoot, input: "a password from stdin\n", encoding: "utf8" },
  );
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /password set for charge-nurse/);
  t.true(await verifyPassword(usersFile, "charge-nurse", "a password from stdin"));
});
