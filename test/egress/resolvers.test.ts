import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AllowlistEntry } from "../../src/config/egress-schema.js";
import { Allowlist } from "../../src/egress/allowlist.js";
import { blockedResolvers, readNameservers } from "../../src/egress/resolvers.js";
import { tempDir } from "../helpers/tmp.js";

const broker: AllowlistEntry = {
  host: "broker.example.org",
  port: 8883,
  protocol: "tcp",
  purpose: "broker",
};
const dns: AllowlistEntry = { host: "10.0.0.53", port: 53, protocol: "udp", purpose: "dns" };

function file(t: Parameters<typeof tempDir>[0], name: string, text: string): string {
  const path = join(tempDir(t), name);
  writeFileSync(path, text);
  return path;
}

test("readNameservers reads addresses without zone ids", (t) => {
  const path = file(
    t,
    "resolv.conf",
    "# comment\nsearch example.org\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bad\n",
  );
  t.deepEqual(readNameservers(path), ["10.0.0.53", "fe80::1"]);
  t.deepEqual(readNameservers(join(tempDir(t), "missing")), []);
});

test("resolver without dns entry is reported", (t) => {
  const path = file(t, "resolv.conf", "nameserver 10.0.0.53\nnameserver 10.0.0.54\n");
  const blocked = blockedResolvers(new Allowlist([broker, dns], "configured"), path);
  t.is(blocked.length, 1);
  t.regex(blocked[0] ?? "", /resolver 10\.0\.0\.54 from .*resolv\.conf has no dns entry/);
  t.regex(blocked[0] ?? "", /lookups of broker\.example\.org/);
  t.regex(blocked[0] ?? "", /add \{ host: 10\.0\.0\.54, port: 53, protocol: udp, purpose: dns \}/);
});

test("allowlist of addresses needs no resolver", (t) => {
  const path = file(t, "resolv.conf", "nameserver 10.0.0.54\n");
  const addressOnly = { ...broker, host: "10.1.1.1" };
  t.deepEqual(blockedResolvers(new Allowlist([addressOnly], "configured"), path), []);
});

test("systemd-resolved stub checks its upstream servers", (t) => {
  const stub = file(t, "resolv.conf", "nameserver 127.0.0.53\noptions edns0\n");
  const upstream = file(t, "upstream.conf", "nameserver 10.0.0.53\nnameserver 10.0.0.99\n");
  const allowlist = new Allowlist([broker, dns], "configured");
  const blocked = blockedResolvers(allowlist, stub, upstream);
  t.is(blocked.length, 1);
  t.regex(blocked[0] ?? "", /resolver 10\.0\.0\.99 from .*upstream\.conf/);
  const missing = join(tempDir(t), "missing.conf");
  t.deepEqual(blockedResolvers(allowlist, stub, missing), []);
});

test("loopback resolver is allowed", (t) => {
  const path = file(t, "resolv.conf", "nameserver 127.0.0.1\nnameserver ::1\n");
  t.deepEqual(blockedResolvers(new Allowlist([broker], "configured"), path), []);
});
