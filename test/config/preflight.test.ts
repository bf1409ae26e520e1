import test, { type ExecutionContext } from "ava";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { formatProblem, type Problem } from "../../src/config/problems.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { keyOwnerProblem, preflight } from "../../src/preflight.js";
import { tempDir } from "../helpers/tmp.js";

const builtInMasimo = join(
  __dirname,
  "..",
  "..",
  "firmware-profiles",
  "masimo-radical7-ascii1.yaml",
);

async function setup(t: ExecutionContext) {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway"] });
  const key = pki.clients.gateway?.key ?? "";
  const base = `site: icu3
gateway: gw-test
dataDir: ${join(dir, "data")}
broker:
  url: mqtts://localhost:8883
  caFile: ${pki.ca.cert}
  certFile: ${pki.clients.gateway?.cert}
  keyFile: ${key}
devices:
  - id: bed1
    profile: masimo-radical7-ascii1
    link: { kind: tcp, host: 127.0.0.1, port: 4001 }
`;
  const file = join(dir, "config.yaml");
  const check = (text: string) => {
    writeFileSync(file, text);
    return preflight(file);
  };
  return { dir, pki, key, base, file, check };
}

function problemsOf(t: ExecutionContext, result: ReturnType<typeof preflight>): Problem[] {
  if (result.ok) {
    t.fail("preflight passed");
    return [];
  }
  return result.problems;
}

function findProblem(t: ExecutionContext, problems: Problem[], path: string): Problem | undefined {
  const found = problems.find((problem) => problem.path === path);
  t.truthy(found, `no problem at ${path} in:\n${problems.map(formatProblem).join("\n")}`);
  return found;
}

test("preflight passes a valid configuration", async (t) => {
  const { base, check } = await setup(t);
  const result = check(base);
  t.true(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
});

test("profile and duplicate checks run beside schema errors", async (t) => {
  const { base, check } = await setup(t);
  // A setting of the wrong type makes zod skip the refinements of the whole configuration.
  const text =
    base.replace("masimo-radical7-ascii1", "masimo-rad99").replace("gw-test", "gw test") +
    "  - id: bed1\n    profile: masimo-radical7-ascii1\n" +
    "    link: { kind: tcp, host: 127.0.0.1, port: 4001 }\n" +
    "linkWatchMs: fast\n";
  const problems = problemsOf(t, check(text));
  t.truthy(findProblem(t, problems, "gateway"));
  t.truthy(findProblem(t, problems, "linkWatchMs"));
  const profile = findProblem(t, problems, "devices[0].profile");
  t.regex(profile?.message ?? "", /profile "masimo-rad99" was not found/);
  t.is(profile?.line, 11);
  const id = findProblem(t, problems, "devices[1].id");
  t.regex(id?.message ?? "", /must be unique, but devices\[0\] has the same id/);
  t.is(id?.line, 13);
  const link = findProblem(t, problems, "devices[1].link");
  t.regex(link?.message ?? "", /same tcp link as devices\[0\]/);
});

test("duplicate ids are reported once", async (t) => {
  const { base, check } = await setup(t);
  // Only refinement errors elsewhere: zod runs its own checks here, so duplicates could repeat.
  const text =
    base.replace("gw-test", "gw test") +
    "  - id: bed1\n    profile: masimo-radical7-ascii1\n" +
    "    link: { kind: tcp, host: 127.0.0.1, port: 4002 }\n";
  const problems = problemsOf(t, check(text));
  t.is(problems.filter((problem) => problem.path === "devices[1].id").length, 1);
  t.is(problems.filter((problem) => problem.path === "devices[1].link").length, 0);
});

test("profile the schema rejects is not reported again", async (t) => {
  const { base, check } = await setup(t);
  for (const written of ['""', "12"]) {
    const text = base.replace("masimo-radical7-ascii1", written) + "linkWatchMs: fast\n";
    const problems = problemsOf(t, check(text));
    const atProfile = problems.filter((problem) => problem.path === "devices[0].profile");
    t.is(atProfile.length, 1, `profile: ${written}`);
    t.notRegex(atProfile[0]?.message ?? "", /was not found/);
  }
});

test("problems after the schema carry their line", async (t) => {
  const { base, check, key, dir } = await setup(t);
  chmodSync(key, 0o644);
  writeFileSync(join(dir, "data"), "a file where the data folder should be\n");
  const problems = problemsOf(t, check(base.replace("masimo-radical7-ascii1", "masimo-rad99")));
  const keyProblem = findProblem(t, problems, "broker.keyFile");
  t.regex(keyProblem?.message ?? "", /can be read by other users/);
  t.is(keyProblem?.line, 8);
  t.is(keyProblem?.column, 12);
  t.is(findProblem(t, problems, "devices[0].profile")?.line, 11);
  const dataDir = findProblem(t, problems, "dataDir");
  t.regex(dataDir?.message ?? "", /is not a writable folder/);
  t.is(dataDir?.line, 3);
  t.is(dataDir?.column, 10);
});

test("certificate problem carries its line", async (t) => {
  const { base, check, pki } = await setup(t);
  const problems = problemsOf(t, check(base.replace(pki.ca.cert, pki.rogueCa.cert)));
  const cert = findProblem(t, problems, "broker.certFile");
  t.regex(cert?.message ?? "", /was not issued by a CA in/);
  t.is(cert?.line, 7);
});

test("CA certificate as client certificate is rejected", async (t) => {
  const { base, check, pki, key } = await setup(t);
  const config = base
    .replace(`certFile: ${pki.clients.gateway?.cert}`, `certFile: ${pki.ca.cert}`)
    .replace(`keyFile: ${key}`, `keyFile: ${pki.ca.key}`);
  const problems = problemsOf(t, check(config));
  const cert = findProblem(t, problems, "broker.certFile");
  t.regex(cert?.message ?? "", /is a CA certificate \(basic constraints CA:TRUE\)/);
  t.regex(cert?.message ?? "", /use the gateway's own certificate/);
  t.is(problems.length, 1, problems.map(formatProblem).join("\n"));
});

test("dataDir under a kernel file system is rejected", async (t) => {
  const { base, check, dir } = await setup(t);
  symlinkSync("/sys/kernel", join(dir, "kernel-link"));
  const cases: [string, string][] = [
    ["/sys/iomt-gateway-test", "/sys"],
    [`/dev/iomt-gateway-test-${process.pid}`, "/dev"],
    [join(dir, "kernel-link", "iomt"), "/sys"],
  ];
  for (const [dataDir, root] of cases) {
    const problems = problemsOf(t, check(base.replace(join(dir, "data"), dataDir)));
    const problem = findProblem(t, problems, "dataDir");
    t.regex(problem?.message ?? "", new RegExp(`is under ${root}, which the kernel provides`));
    t.regex(problem?.message ?? "", /use a folder on persistent storage/);
    t.is(problem?.line, 3);
  }
  t.false(existsSync(`/dev/iomt-gateway-test-${process.pid}`));
});

test("dataDir check creates the folder and leaves no probe file", async (t) => {
  const { base, check, dir } = await setup(t);
  const result = check(base);
  t.true(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
  t.deepEqual(readdirSync(join(dir, "data")), []);
});

test("refused start creates no dataDir", async (t) => {
  const { base, check, dir } = await setup(t);
  const problems = problemsOf(t, check(base.replace(/caFile: .*/, "caFile: ./no-such-ca.pem")));
  t.truthy(findProblem(t, problems, "broker.caFile"));
  t.false(existsSync(join(dir, "data")));
  // The serial paths are checked after the certificates.
  const serial = base.replace(/link: .*/, "link: { kind: serial, path: /dev/null }");
  t.truthy(findProblem(t, problemsOf(t, check(serial)), "devices[0].link.path"));
  t.false(existsSync(join(dir, "data")));
});

test("missing profilesDir is a problem with the fix", async (t) => {
  const { base, check, dir } = await setup(t);
  const problems = problemsOf(t, check(`${base}profilesDir: ./no-such-folder\n`));
  const problem = findProblem(t, problems, "profilesDir");
  t.regex(problem?.message ?? "", /no-such-folder does not exist; set profilesDir to the folder/);
  t.true(problem?.message.includes(join(dir, "no-such-folder")));
  t.is(problem?.line, 13);
});

test("profilesDir that is a file is a problem, not a throw", async (t) => {
  const { base, check, dir } = await setup(t);
  writeFileSync(join(dir, "profiles.yaml"), "id: x\n");
  const problems = problemsOf(t, check(`${base}profilesDir: ./profiles.yaml\n`));
  const problem = findProblem(t, problems, "profilesDir");
  t.regex(problem?.message ?? "", /profiles\.yaml is a file, not a folder; set profilesDir/);
  t.is(problem?.line, 13);
});

test("missing profilesDir is reported beside schema errors", async (t) => {
  const { base, check } = await setup(t);
  const problems = problemsOf(t, check(`${base}profilesDir: ./no-such-folder\nlinkWatchMs: x\n`));
  t.regex(findProblem(t, problems, "profilesDir")?.message ?? "", /does not exist/);
  t.is(findProblem(t, problems, "profilesDir")?.line, 13);
});

test("profile in profilesDir overrides the built-in one", async (t) => {
  const { base, check, dir } = await setup(t);
  mkdirSync(join(dir, "profiles"));
  const override = join(dir, "profiles", "radical7-site.yaml");
  writeFileSync(
    override,
    readFileSync(builtInMasimo, "utf8").replace(/^name: .*$/m, "name: Site Radical-7"),
  );
  const result = check(`${base}profilesDir: ./profiles\n`);
  if (!result.ok) return t.fail(result.problems.map(formatProblem).join("\n"));
  const { profiles, profileOverrides } = result.prepared;
  t.is(profiles.get("masimo-radical7-ascii1")?.profile.name, "Site Radical-7");
  t.deepEqual(profileOverrides, [
    { id: "masimo-radical7-ascii1", file: override, overridden: builtInMasimo },
  ]);
});

test("run loads only the profiles devices name", async (t) => {
  const { base, dir, file } = await setup(t);
  mkdirSync(join(dir, "profiles"));
  writeFileSync(join(dir, "profiles", "broken.yaml"), "id: site-broken\nname: [unclosed\n");
  // A quoted key hides the id from the quick scan, so this file must be parsed in full.
  const quotedKey = readFileSync(builtInMasimo, "utf8")
    .replace(/^id: /m, '"id": ')
    .replace(/^name: .*$/m, "name: Site Radical-7");
  writeFileSync(join(dir, "profiles", "radical7-site.yaml"), quotedKey);
  writeFileSync(file, `${base}profilesDir: ./profiles\n`);

  const problems = problemsOf(t, preflight(file, "check"));
  const broken = problems.filter((problem) => problem.file.endsWith("broken.yaml"));
  t.true(broken.length > 0, "check reports the profile no device uses");

  const run = preflight(file, "run");
  if (!run.ok) return t.fail(run.problems.map(formatProblem).join("\n"));
  t.deepEqual([...run.prepared.profiles.keys()], ["masimo-radical7-ascii1"]);
  t.is(run.prepared.profiles.get("masimo-radical7-ascii1")?.profile.name, "Site Radical-7");
});

test("run reads a profile whose id is escaped", async (t) => {
  const { base, dir, file } = await setup(t);
  mkdirSync(join(dir, "profiles"));
  // "\x2d" is "-" in a double-quoted YAML string: the id is masimo-radical7-ascii1.
  const escaped = readFileSync(builtInMasimo, "utf8")
    .replace(/^id: .*$/m, 'id: "masimo-radical7\\x2dascii1"')
    .replace(/^name: .*$/m, "name: Site Radical-7");
  writeFileSync(join(dir, "profiles", "radical7-site.yaml"), escaped);
  writeFileSync(file, `${base}profilesDir: ./profiles\n`);
  for (const mode of ["run", "check"] as const) {
    const result = preflight(file, mode);
    if (!result.ok) return t.fail(result.problems.map(formatProblem).join("\n"));
    const used = result.prepared.profiles.get("masimo-radical7-ascii1");
    t.is(used?.profile.name, "Site Radical-7", mode);
  }
});

test("run lists known profiles for a missing one", async (t) => {
  const { base, check } = await setup(t);
  const text = base.replace("profile: masimo-radical7-ascii1", "profile: no-such-profile");
  const problems = problemsOf(t, check(text));
  const problem = findProblem(t, problems, "devices[0].profile");
  t.regex(
    problem?.message ?? "",
    /"no-such-profile" was not found \(known: .*masimo-radical7-ascii1/,
  );
  t.notRegex(problem?.message ?? "", /known: none/);
});

test("keyOwnerProblem compares owner and user", (t) => {
  const file = join(tempDir(t), "gateway.key");
  writeFileSync(file, "not a key\n", { mode: 0o600 });
  const owner = statSync(file).uid;
  t.is(keyOwnerProblem(file, owner), undefined);
  t.regex(
    keyOwnerProblem(file, owner + 1) ?? "",
    new RegExp(
      `is owned by uid ${owner}, not by the user running this check \\(uid ${owner + 1}\\)`,
    ),
  );
  t.is(keyOwnerProblem(join(tempDir(t), "absent.key"), owner), undefined);
  t.is(keyOwnerProblem(file, undefined), undefined);
});

const runsAsRoot = process.getuid?.() === 0;

(runsAsRoot ? test : test.skip)("key of another user is a problem for root", async (t) => {
  const { base, check, key, dir } = await setup(t);
  // A copy, so the PKI's own key keeps its owner.
  const foreignKey = join(dir, "foreign.key");
  copyFileSync(key, foreignKey);
  chmodSync(foreignKey, 0o600);
  chownSync(foreignKey, 65_534, 65_534);
  const problems = problemsOf(t, check(base.replace(key, foreignKey)));
  const problem = findProblem(t, problems, "broker.keyFile");
  t.regex(problem?.message ?? "", /is owned by uid 65534, not by the user running this check/);
  t.regex(problem?.message ?? "", /chown the key to that user/);
  t.is(problem?.line, 8);
});

const serialLink = (path: string) => `link: { kind: serial, path: ${path} }`;
const tcpLink = "link: { kind: tcp, host: 127.0.0.1, port: 4001 }";

test("serial path that is a file or folder is a problem", async (t) => {
  const { base, check, dir } = await setup(t);
  const file = join(dir, "not-a-port");
  writeFileSync(file, "");
  const cases = [
    [file, /not-a-port is a regular file, not a serial port; set link\.path/],
    [dir, /is a directory, not a serial port/],
    // /dev/null is a character device, but sysfs puts it in class mem, not tty.
    ["/dev/null", /\/dev\/null is a character device of class mem, not a serial port/],
  ] as const;
  for (const [path, pattern] of cases) {
    const problems = problemsOf(t, check(base.replace(tcpLink, serialLink(path))));
    const problem = findProblem(t, problems, "devices[0].link.path");
    t.regex(problem?.message ?? "", pattern, path);
    t.is(problem?.line, 12, `${path}: line`);
  }
});

test("serial path that does not exist is a warning", async (t) => {
  const { base, check, dir } = await setup(t);
  const result = check(base.replace(tcpLink, serialLink(join(dir, "ttyUSB9"))));
  if (!result.ok) return t.fail(result.problems.map(formatProblem).join("\n"));
  const [warning] = result.prepared.warnings;
  t.is(result.prepared.warnings.length, 1);
  t.is(warning?.path, "devices[0].link.path");
  t.regex(warning?.message ?? "", /ttyUSB9 does not exist; plug in the adapter or set link\.path/);
  t.is(warning?.line, 12);
});

test("serial path of a terminal device passes", async (t) => {
  const { base, check } = await setup(t);
  // /dev/ptmx is in sysfs class tty, like a USB serial adapter, and check never opens it.
  const result = check(base.replace(tcpLink, serialLink("/dev/ptmx")));
  t.true(result.ok, result.ok ? "" : result.problems.map(formatProblem).join("\n"));
  t.deepEqual(result.ok ? result.prepared.warnings : undefined, []);
});

test("one serial port under two paths is a problem", async (t) => {
  const { base, check, dir } = await setup(t);
  // A link to /dev/ptmx plays the part of a /dev/serial/by-id link to its /dev/ttyUSB node.
  const byId = join(dir, "usb-FTDI_FT232R-if00-port0");
  symlinkSync("/dev/ptmx", byId);
  const second = `  - id: bed2\n    profile: masimo-radical7-ascii1\n    ${serialLink(byId)}\n`;
  const problems = problemsOf(t, check(base.replace(tcpLink, serialLink("/dev/ptmx")) + second));
  const problem = findProblem(t, problems, "devices[1].link.path");
  t.regex(
    problem?.message ?? "",
    /if00-port0 is the same serial port as devices\[0\]\.link\.path \/dev\/ptmx \(both are \/dev\/ptmx\); give each device its own port/,
  );
  t.is(problem?.line, 15);
});
