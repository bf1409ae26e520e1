/**
 * The OPC UA trust lists in dataDir, in the folder layout node-opcua's certificate manager reads
 * (trusted/certs, rejected, issuers/certs). The server only ever adds to rejected/; a
 * certificate becomes trusted when a technician moves it with `iomt-gateway opcua trust`. This
 * module uses node:crypto only, so the command does not load node-opcua.
 */
import { X509Certificate } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import { subjectAltUris } from "./certificate.js";

/**
 * The two trust lists: client application certificates, checked when a secure channel opens, and
 * X.509 user certificates, checked when a session activates.
 */
export type StoreKind = "applications" | "users";
export const storeKinds: readonly StoreKind[] = ["applications", "users"];

export interface StoredCertificate {
  store: StoreKind;
  status: "trusted" | "rejected";
  file: string;
  /** SHA-1 of the DER bytes in lower-case hex: what OPC UA calls the thumbprint. */
  thumbprint: string;
  subject: string;
  uris: string[];
  notAfter: string;
}

export function storeDir(dataDir: string, store: StoreKind): string {
  return join(dataDir, "opcua", store);
}

const trustedDir = (dataDir: string, store: StoreKind) =>
  join(storeDir(dataDir, store), "trusted", "certs");
const rejectedDir = (dataDir: string, store: StoreKind) =>
  join(storeDir(dataDir, store), "rejected");

/** Creates the folders node-opcua expects, so a first `opcua trust` works before the first start. */
export function ensureStores(dataDir: string): void {
  for (const store of storeKinds) {
    for (const folder of [
      "trusted/certs",
      "trusted/crl",
      "issuers/certs",
      "issuers/crl",
      "rejected",
    ]) {
      mkdirSync(join(storeDir(dataDir, store), folder), { recursive: true });
    }
  }
}

export function listCertificates(dataDir: string): StoredCertificate[] {
  return storeKinds.flatMap((store) => [
    ...readFolder(trustedDir(dataDir, store), store, "trusted"),
    ...readFolder(rejectedDir(dataDir, store), store, "rejected"),
  ]);
}

/** A certificate after `trust`, with what may still keep the server from accepting it. */
export interface TrustedCertificate extends StoredCertificate {
  warnings: string[];
}

/**
 * Trusts a rejected certificate named by its thumbprint (or a unique prefix of 8 or more hex
 * digits), or a certificate file handed to the technician. A file goes to `store`; a thumbprint
 * is looked up in `store` when given, else in both lists. Both forms apply the same checks.
 */
export function trustCertificate(
  dataDir: string,
  target: string,
  store: StoreKind | undefined,
  now = new Date(),
): TrustedCertificate {
  ensureStores(dataDir);
  if (existsSync(target) && !isThumbprintText(target)) {
    return trustFile(dataDir, target, store ?? "applications", now);
  }
  const found = findOne(dataDir, target, "rejected", store);
  checkFitsStore(
    found,
    found.store,
    `the rejected certificate ${found.thumbprint}`,
    "the client must present an application certificate; a user's certificate file is trusted with --user",
  );
  const destination = join(trustedDir(dataDir, found.store), fileNameOf(found));
  renameSync(found.file, destination);
  giveToDataDirOwner(dataDir);
  const trusted = { ...found, status: "trusted" as const, file: destination };
  return { ...trusted, warnings: trustWarnings(dataDir, trusted, now) };
}

/**
 * Withdraws trust: moves a trusted certificate back to rejected, where it can be trusted again.
 * `store` picks the list when the same certificate is trusted in both.
 */
export function rejectCertificate(
  dataDir: string,
  target: string,
  store?: StoreKind,
): StoredCertificate {
  ensureStores(dataDir);
  const found = findOne(dataDir, target, "trusted", store);
  const destination = join(rejectedDir(dataDir, found.store), fileNameOf(found));
  renameSync(found.file, destination);
  giveToDataDirOwner(dataDir);
  return { ...found, status: "rejected", file: destination };
}

function trustFile(dataDir: string, file: string, store: StoreKind, now: Date): TrustedCertificate {
  const certificate = parse(file, store, "trusted");
  if (certificate === undefined) {
    throw new GatewayError("CLI_USAGE", `${file} is not a PEM or DER X.509 certificate`);
  }
  checkFitsStore(certificate, store, file, "add --user if it is a user's certificate");
  const destination = join(trustedDir(dataDir, store), fileNameOf(certificate));
  const pem = new X509Certificate(readFileSync(file)).toString();
  writeFileSync(destination, pem, { mode: 0o644 });
  // A copy the server rejected earlier would otherwise stay listed as rejected.
  for (const stale of readFolder(rejectedDir(dataDir, store), store, "rejected")) {
    if (stale.thumbprint === certificate.thumbprint) rmSync(stale.file);
  }
  giveToDataDirOwner(dataDir);
  const trusted = { ...certificate, file: destination };
  return { ...trusted, warnings: trustWarnings(dataDir, trusted, now) };
}

/** Rejects an application certificate without the URI every OPC UA application carries. */
function checkFitsStore(
  certificate: StoredCertificate,
  store: StoreKind,
  named: string,
  fix: string,
): void {
  if (store === "applications" && certificate.uris.length === 0) {
    throw new GatewayError(
      "CLI_USAGE",
      `${named} has no subjectAltName URI, so it cannot be an OPC UA application certificate; ${fix}`,
    );
  }
}

/** Returns the reasons the server may still refuse a certificate just trusted. */
function trustWarnings(dataDir: string, entry: StoredCertificate, now: Date): string[] {
  const warnings: string[] = [];
  if (isExpired(entry, now)) {
    warnings.push(
      `${entry.subject} expired on ${entry.notAfter}; the server refuses it ` +
        "(BadCertificateTimeInvalid) until the client gets a new certificate",
    );
  }
  const certificate = new X509Certificate(readFileSync(entry.file));
  if (isSelfSigned(certificate)) return warnings;
  const folder = storeDir(dataDir, entry.store);
  const issuer = certificate.issuer.replace(/\n/g, ", ");
  const issuers = ["issuers/certs", "trusted/certs"].flatMap((sub) =>
    readCertificates(join(folder, sub)),
  );
  if (!issuers.some((candidate) => certificate.checkIssued(candidate))) {
    warnings.push(
      `${entry.subject} was issued by ${issuer}, whose certificate is not in ` +
        `${join(folder, "issuers", "certs")}; the server refuses the client ` +
        "(BadCertificateChainIncomplete) until the CA certificate is there, with its CRL in issuers/crl",
    );
  } else if (
    readdirSync(join(folder, "issuers", "crl")).length === 0 &&
    readdirSync(join(folder, "trusted", "crl")).length === 0
  ) {
    warnings.push(
      `no CRL of ${issuer} is in ${join(folder, "issuers", "crl")}; the server refuses the client ` +
        "(BadCertificateRevocationUnknown) until the CA's CRL is there",
    );
  }
  return warnings;
}

export function isExpired(entry: StoredCertificate, now = new Date()): boolean {
  return Date.parse(entry.notAfter) <= now.getTime();
}

function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
}

function readCertificates(folder: string): X509Certificate[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder).flatMap((name) => {
    try {
      return [new X509Certificate(readFileSync(join(folder, name)))];
    } catch {
      return [];
    }
  });
}

/**
 * Gives the trust lists to dataDir's owner when the command runs as root, so the agent's user
 * can still read them and write rejected certificates.
 */
function giveToDataDirOwner(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dataDir);
  const walk = (path: string) => {
    chownSync(path, uid, gid);
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(join(dataDir, "opcua"));
}

function findOne(
  dataDir: string,
  target: string,
  status: StoredCertificate["status"],
  store: StoreKind | undefined,
): StoredCertificate {
  const wanted = target.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{8,40}$/.test(wanted)) {
    throw new GatewayError(
      "CLI_USAGE",
      `"${target}" is neither a certificate file nor a thumbprint (8 to 40 hex digits); ` +
        "run iomt-gateway opcua list to see them",
    );
  }
  const matches = listCertificates(dataDir).filter(
    (entry) =>
      entry.status === status &&
      entry.thumbprint.startsWith(wanted) &&
      (store === undefined || entry.store === store),
  );
  if (matches.length === 1) return matches[0] as StoredCertificate;
  const where = store === undefined ? "" : ` ${store === "users" ? "user" : "application"}`;
  if (matches.length === 0) {
    throw new GatewayError(
      "CLI_USAGE",
      `no ${status}${where} certificate has thumbprint ${wanted}; run iomt-gateway opcua list to see them`,
    );
  }
  const thumbprints = new Set(matches.map((entry) => entry.thumbprint));
  if (thumbprints.size === 1) {
    throw new GatewayError(
      "CLI_USAGE",
      `certificate ${wanted} is ${status} both as an application and as a user; ` +
        "add --application or --user to choose the list",
    );
  }
  throw new GatewayError(
    "CLI_USAGE",
    `${matches.length} ${status}${where} certificates have thumbprint ${wanted}; ` +
      "run iomt-gateway opcua list and give the full thumbprint",
  );
}

function isThumbprintText(text: string): boolean {
  return /^[0-9a-fA-F:]{8,59}$/.test(text);
}

function readFolder(
  folder: string,
  store: StoreKind,
  status: StoredCertificate["status"],
): StoredCertificate[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => /\.(pem|der|crt)$/i.test(name))
    .flatMap((name) => parse(join(folder, name), store, status) ?? []);
}

function parse(
  file: string,
  store: StoreKind,
  status: StoredCertificate["status"],
): StoredCertificate | undefined {
  try {
    const cert = new X509Certificate(readFileSync(file));
    return {
      store,
      status,
      file,
      thumbprint: cert.fingerprint.replace(/:/g, "").toLowerCase(),
      subject: cert.subject.replace(/\n/g, ", "),
      uris: subjectAltUris(cert.subjectAltName),
      notAfter: new Date(cert.validTo).toISOString(),
    };
  } catch {
    // Not a certificate (a stray file in the folder): not listed, and node-opcua skips it too.
    return undefined;
  }
}

/** node-opcua's own naming: the common name, then the thumbprint in brackets. */
function fileNameOf(certificate: StoredCertificate): string {
  const commonName = /CN=([^,]+)/.exec(certificate.subject)?.[1] ?? "certificate";
  return `${commonName.replace(/[^A-Za-z0-9._-]/g, "_")}[${certificate.thumbprint}].pem`;
}
