import test from "ava";
import { chownSync, copyFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { hasCode } from "../../src/errors.js";
import {
  ensureStores,
  isExpired,
  listCertificates,
  rejectCertificate,
  storeDir,
  trustCertificate,
} from "../../src/opcua/trust-store.js";
import { ucumUnits } from "../../src/opcua/units.js";
import { createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import { tempDir } from "../helpers/tmp.js";

test("a rejected client is trusted by thumbprint prefix, and trust can be withdrawn", async (t) => {
  const dataDir = tempDir(t);
  const cert = await createOpcuaCertificate(tempDir(t), "scada", { applicationUri: "urn:scada" });
  ensureStores(dataDir);
  // As the server does on an unknown client: a copy in rejected/.
  const rejected = join(storeDir(dataDir, "applications"), "rejected");
  copyFileSync(cert.cert, join(rejected, "scada.pem"));
  const [entry] = listCertificates(dataDir);
  t.is(entry?.status, "rejected");
  t.deepEqual(entry?.uris, ["urn:scada"]);
  const thumbprint = entry?.thumbprint ?? "";
  t.regex(thumbprint, /^[0-9a-f]{40}$/);

  const trusted = trustCertificate(dataDir, thumbprint.slice(0, 10), "applications");
  t.is(trusted.status, "trusted");
  t.deepEqual(readdirSync(rejected), []);
  t.true(existsSync(trusted.file));
  t.regex(trusted.file, /trusted[\\/]certs[\\/]scada\[[0-9a-f]{40}\]\.pem$/);

  const withdrawn = rejectCertificate(dataDir, thumbprint);
  t.is(withdrawn.status, "rejected");
  t.deepEqual(
    listCertificates(dataDir).map((listed) => listed.status),
    ["rejected"],
  );
});

test("a user certificate file is trusted into the users' list", async (t) => {
  const dataDir = tempDir(t);
  const user = await createOpcuaCertificate(tempDir(t), "nurse");
  const error = t.throws(() => trustCertificate(dataDir, user.cert, "applications"));
  t.true(hasCode(error, "CLI_USAGE"));
  t.regex(error?.message ?? "", /no subjectAltName URI.*add --user/);
  const entry = trustCertificate(dataDir, user.cert, "users");
  t.is(entry.store, "users");
  t.regex(entry.subject, /CN=nurse/);
});

test("a thumbprint that matches nothing names the list command", (t) => {
  const dataDir = tempDir(t);
  const error = t.throws(() => trustCertificate(dataDir, "0123456789abcdef", "applications"));
  t.regex(
    error?.message ?? "",
    /no rejected application certificate has thumbprint 0123456789abcdef; run iomt-gateway opcua list/,
  );
  const text = t.throws(() => trustCertificate(dataDir, "scada", "applications"));
  t.regex(text?.message ?? "", /neither a certificate file nor a thumbprint/);
});

test("every unit of the built-in profiles is in the unit table", (t) => {
  const units = new Set(
    [...loadProfiles(builtInProfileDirs()).profiles.values()].flatMap((loaded) =>
      Object.values(loaded.profile.measurements).map((mapping) => mapping.unit),
    ),
  );
  t.true(units.size > 0);
  for (const unit of units) t.truthy(ucumUnits[unit], `UCUM ${unit} is not in src/opcua/units.ts`);
});

test("trust run as root gives the lists to dataDir's owner", async (t) => {
  if (process.getuid?.() !== 0) return t.pass("needs root to change owners");
  const dataDir = tempDir(t);
  chownSync(dataDir, 4321, 4321);
  const cert = await createOpcuaCertificate(tempDir(t), "scada", { applicationUri: "urn:scada" });
  const entry = trustCertificate(dataDir, cert.cert, "applications");
  t.is(statSync(entry.file).uid, 4321);
  t.is(statSync(join(storeDir(dataDir, "users"), "rejected")).uid, 4321);
});

test("trust by thumbprint checks the URI as trust FILE does", async (t) => {
  const dataDir = tempDir(t);
  const user = await createOpcuaCertificate(tempDir(t), "nurse");
  ensureStores(dataDir);
  // As the server does when a client presents a certificate without a URI as its application's.
  copyFileSync(user.cert, join(storeDir(dataDir, "applications"), "rejected", "nurse.pem"));
  const [entry] = listCertificates(dataDir);
  const error = t.throws(() => trustCertificate(dataDir, entry?.thumbprint ?? "", undefined));
  t.true(hasCode(error, "CLI_USAGE"));
  t.regex(error?.message ?? "", /no subjectAltName URI, so it cannot be an OPC UA application/);
  t.deepEqual(
    listCertificates(dataDir).map((listed) => listed.status),
    ["rejected"],
  );
});

test("reject picks the list when both trust a certificate", async (t) => {
  const dataDir = tempDir(t);
  const cert = await createOpcuaCertificate(tempDir(t), "scada", { applicationUri: "urn:scada" });
  trustCertificate(dataDir, cert.cert, "applications");
  const asUser = trustCertificate(dataDir, cert.cert, "users");
  const error = t.throws(() => rejectCertificate(dataDir, asUser.thumbprint));
  t.regex(
    error?.message ?? "",
    /both as an application and as a user; add --application or --user/,
  );
  const withdrawn = rejectCertificate(dataDir, asUser.thumbprint, "users");
  t.is(withdrawn.store, "users");
  t.deepEqual(
    listCertificates(dataDir).map((listed) => `${listed.store} ${listed.status}`),
    ["applications trusted", "users rejected"],
  );
});

test("trust warns about an expired certificate", async (t) => {
  const dataDir = tempDir(t);
  const cert = await createOpcuaCertificate(tempDir(t), "scada", {
    applicationUri: "urn:scada",
    days: 1,
  });
  const later = new Date(Date.now() + 3 * 24 * 60 * 60 * 1000);
  const entry = trustCertificate(dataDir, cert.cert, "applications", later);
  t.is(entry.warnings.length, 1);
  t.regex(entry.warnings[0] ?? "", /expired on .*BadCertificateTimeInvalid/);
  t.true(isExpired(entry, later));
  t.false(isExpired(entry));
  t.deepEqual(trustCertificate(dataDir, cert.cert, "applications").warnings, []);
});
