import test from "ava";
import type { AllowlistEntry } from "../../src/config/egress-schema.js";
import { configSchema } from "../../src/config/schema.js";
import { Allowlist, type Destination } from "../../src/egress/allowlist.js";
import { allowlistOf, uncoveredDestinationProblems } from "../../src/egress/destinations.js";
import { AllowlistPinning } from "../../src/egress/pinning.js";
import { silentLogger } from "../../src/log.js";

const entries: AllowlistEntry[] = [
  { host: "Broker.Example.org", port: 8883, protocol: "tcp", purpose: "broker" },
  { host: "10.20.30.40", port: 4001, protocol: "tcp", purpose: "device-server" },
  { host: "10.21.0.0/16", port: 4001, protocol: "tcp", purpose: "device-server" },
  { host: "fd00:10::/64", port: 4002, protocol: "tcp", purpose: "device-server" },
  { host: "10.0.0.53", port: 53, protocol: "udp", purpose: "dns" },
  { host: "10.5.0.0/24", port: 4840, protocol: "tcp", purpose: "opcua-client" },
];

const broker = (host: string, port = 8883): Destination => ({
  host,
  port,
  protocol: "tcp",
  purpose: "broker",
});
const deviceServer = (host: string, port = 4001): Destination => ({
  host,
  port,
  protocol: "tcp",
  purpose: "device-server",
});

test("named host is allowed only at its pinned addresses", (t) => {
  const allowlist = new Allowlist(entries, "configured");
  const before = allowlist.authorize(broker("broker.example.org"));
  t.false(before.ok, "nothing is allowed before the name resolves");
  if (!before.ok) t.regex(before.reason, /has not resolved/);
  allowlist.pin("broker.example.org", ["10.1.1.2", "10.1.1.1"]);
  const after = allowlist.authorize(broker("BROKER.example.org"));
  t.true(after.ok);
  if (after.ok) t.deepEqual(after.addresses, ["10.1.1.1", "10.1.1.2"]);
  t.true(allowlist.authorize(broker("10.1.1.1")).ok, "a pinned address matches by address");
  t.false(allowlist.authorize(broker("10.1.1.3")).ok, "an address not pinned does not");
});

test("address and CIDR entries match addresses", (t) => {
  const allowlist = new Allowlist(entries, "configured");
  t.true(allowlist.authorize(deviceServer("10.20.30.40")).ok);
  t.false(allowlist.authorize(deviceServer("10.20.30.41")).ok);
  t.true(allowlist.authorize(deviceServer("10.21.255.7")).ok);
  t.false(allowlist.authorize(deviceServer("10.22.0.1")).ok);
  t.true(allowlist.authorize(deviceServer("fd00:10::1:2", 4002)).ok);
  t.true(allowlist.authorize(deviceServer("fd00:10:0:0::9", 4002)).ok, "IPv6 is normalised");
  t.false(allowlist.authorize(deviceServer("fd00:11::1", 4002)).ok);
});

test("port, protocol, purpose and direction must match", (t) => {
  const allowlist = new Allowlist(entries, "configured");
  t.false(allowlist.authorize(deviceServer("10.20.30.40", 4002)).ok, "other port");
  t.false(
    allowlist.authorize({
      host: "10.20.30.40",
      port: 4001,
      protocol: "udp",
      purpose: "device-server",
    }).ok,
    "other protocol",
  );
  t.false(allowlist.authorize(broker("10.20.30.40", 4001)).ok, "other purpose");
  const inbound = allowlist.authorize({
    host: "10.5.0.7",
    port: 4840,
    protocol: "tcp",
    purpose: "opcua-client",
  });
  t.false(inbound.ok, "an inbound entry allows no outbound connection");
});

test("denial names the destination and the missing entry", (t) => {
  const decision = new Allowlist(entries, "configured").authorize(deviceServer("10.99.0.1", 5000));
  t.false(decision.ok);
  if (decision.ok) return;
  t.regex(decision.reason, /device-server 10\.99\.0\.1:5000\/tcp/);
  t.regex(
    decision.reason,
    /add \{ host: 10\.99\.0\.1, port: 5000, protocol: tcp, purpose: device-server \}/,
  );
});

test("name destination does not match a CIDR entry", (t) => {
  const allowlist = new Allowlist(entries, "configured");
  const decision = allowlist.authorize(deviceServer("moxa1.example.org"));
  t.false(decision.ok);
  if (!decision.ok) t.regex(decision.reason, /matches only an entry with the same name/);
});

test("version changes with a pinned address", (t) => {
  const allowlist = new Allowlist(entries, "configured");
  const first = allowlist.version();
  t.true(allowlist.pin("broker.example.org", ["10.1.1.1"]));
  const second = allowlist.version();
  t.not(second, first);
  t.false(allowlist.pin("broker.example.org", ["10.1.1.1"]), "the same answer changes nothing");
  t.is(allowlist.version(), second);
});

test("pinning reports changes and keeps addresses on failure", async (t) => {
  const allowlist = new Allowlist(entries, "configured");
  const answers: (string[] | Error)[] = [["10.1.1.1"], new Error("SERVFAIL"), ["10.1.1.9"]];
  const pinning = new AllowlistPinning(allowlist, {
    lookup: () => {
      const answer = answers.shift();
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer ?? []);
    },
    refreshIntervalMs: 60_000,
    log: silentLogger,
  });
  const changes: string[][] = [];
  const failures: string[][] = [];
  pinning.onChange((list) => changes.push(...list.map((change) => change.after)));
  pinning.onFailure((failure) => failures.push(failure.kept));
  await pinning.refresh();
  await pinning.refresh();
  t.deepEqual(allowlist.pinnedAddresses("broker.example.org"), ["10.1.1.1"], "kept on failure");
  await pinning.refresh();
  t.deepEqual(changes, [["10.1.1.1"], ["10.1.1.9"]]);
  t.deepEqual(failures, [["10.1.1.1"]]);
});

const baseConfig = {
  site: "icu3",
  gateway: "gw1",
  dataDir: "/tmp/x",
  broker: { url: "mqtts://broker.example.org:8883", caFile: "ca", certFile: "c", keyFile: "k" },
  devices: [
    { id: "bed1", profile: "p", link: { kind: "tcp", host: "10.20.30.40", port: 4001 } },
    { id: "bed2", profile: "p", link: { kind: "serial", path: "/dev/ttyUSB0" } },
  ],
};

test("config without allowlist derives broker and device entries", (t) => {
  const config = configSchema.parse(baseConfig);
  const allowlist = allowlistOf(config);
  t.is(allowlist.source, "derived");
  t.deepEqual(
    allowlist.rules.map((rule) => `${rule.entry.purpose} ${rule.entry.host}:${rule.entry.port}`),
    ["broker broker.example.org:8883", "device-server 10.20.30.40:4001"],
  );
  t.deepEqual(uncoveredDestinationProblems(config, "c.yaml"), []);
});

test("allowlist missing the broker is a configuration problem", (t) => {
  const config = configSchema.parse({
    ...baseConfig,
    egress: { allowlist: [{ host: "10.20.30.40", port: 4001, purpose: "device-server" }] },
  });
  const problems = uncoveredDestinationProblems(config, "c.yaml");
  t.deepEqual(
    problems.map((problem) => problem.path),
    ["broker.url"],
  );
  t.regex(problems[0]?.message ?? "", /purpose: broker/);
});

test("schema rejects bad hosts and a dns entry by name", (t) => {
  const withEntry = (entry: object) =>
    configSchema.safeParse({ ...baseConfig, egress: { allowlist: [entry] } });
  t.false(withEntry({ host: "10.0.0.0/33", port: 1, purpose: "time" }).success);
  t.false(withEntry({ host: "bad_name!", port: 1, purpose: "time" }).success);
  t.false(withEntry({ host: "dns.example.org", port: 53, purpose: "dns" }).success);
  t.false(withEntry({ host: "10.0.0.1", port: 1, purpose: "time", direction: "in" }).success);
  t.true(withEntry({ host: "10.0.0.0/8", port: 123, protocol: "udp", purpose: "time" }).success);
  t.true(withEntry({ host: "10.0.0.53", port: 53, protocol: "udp", purpose: "dns" }).success);
  t.true(withEntry({ host: "fd00::53", port: 53, protocol: "udp", purpose: "dns" }).success);
});

test("enabled OPC UA server needs an opcua-client entry", (t) => {
  const egress = { allowlist: [{ host: "broker.example.org", port: 8883, purpose: "broker" }] };
  const config = configSchema.parse({
    ...baseConfig,
    devices: [baseConfig.devices[1]],
    egress,
    opcua: { enabled: true, port: 4840, certFile: "s.crt", keyFile: "s.key" },
  });
  const problems = uncoveredDestinationProblems(config, "c.yaml");
  t.deepEqual(
    problems.map((problem) => problem.path),
    ["opcua.port"],
  );
  const admitted = configSchema.parse({
    ...baseConfig,
    devices: [baseConfig.devices[1]],
    egress: {
      allowlist: [
        ...egress.allowlist,
        { host: "10.5.0.0/24", port: 4840, purpose: "opcua-client" },
      ],
    },
    opcua: { enabled: true, port: 4840, certFile: "s.crt", keyFile: "s.key" },
  });
  t.deepEqual(uncoveredDestinationProblems(admitted, "c.yaml"), []);
});

const hostProblems: { host: string; problem: RegExp }[] = [
  { host: "fe80::1%eth0", problem: /cannot match a zone id \(%eth0\).*fe80::1$/ },
  { host: "256.1.1.1", problem: /256\.1\.1\.1 is not a valid IPv4 address/ },
  { host: "10.1.1", problem: /is not a valid IPv4 address/ },
  { host: "0.0.0.0/0", problem: /allows every address/ },
  { host: "::/0", problem: /allows every address/ },
  { host: "10.99.9.1/24", problem: /host bits set; write the network address, 10\.99\.9\.0\/24/ },
  { host: "fd00:10::1/64", problem: /write the network address, fd00:10::\/64/ },
  { host: "::ffff:10.99.7.9", problem: /IPv4-mapped.*write the IPv4 address, 10\.99\.7\.9/ },
  { host: "::ffff:a63:709", problem: /write the IPv4 address, 10\.99\.7\.9/ },
];

for (const { host, problem } of hostProblems) {
  test(`schema rejects host ${host}`, (t) => {
    const entry = { host, port: 123, protocol: "udp", purpose: "time" };
    const parsed = configSchema.safeParse({ ...baseConfig, egress: { allowlist: [entry] } });
    t.false(parsed.success);
    const issue = parsed.error?.issues[0];
    t.deepEqual(issue?.path, ["egress", "allowlist", 0, "host"]);
    t.regex(issue?.message ?? "", problem);
  });
}

test("schema accepts network addresses", (t) => {
  for (const host of ["10.99.9.0/24", "10.99.9.1/32", "fd00:10::/64", "::1", "1.2.3.4"]) {
    const entry = { host, port: 123, protocol: "udp", purpose: "time" };
    const parsed = configSchema.safeParse({ ...baseConfig, egress: { allowlist: [entry] } });
    t.true(parsed.success, host);
  }
});

test("schema rejects a duplicate entry", (t) => {
  const entry = { host: "Broker.example.org", port: 8883, purpose: "broker" };
  const allowlist = [entry, { ...entry, host: "broker.example.org", protocol: "tcp" }];
  const parsed = configSchema.safeParse({ ...baseConfig, egress: { allowlist } });
  t.false(parsed.success);
  const issue = parsed.error?.issues[0];
  t.deepEqual(issue?.path, ["egress", "allowlist", 1]);
  t.regex(issue?.message ?? "", /repeats entry 0/);
});
