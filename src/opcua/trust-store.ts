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

/**
 * Trusts a rejected certificate named by its thumbprint (or a unique prefix of 8 or more hex
 * digits), or a certificate file handed to the technician, for `store`.
 */
export function trustCertificate(
  dataDir: string,
  target: string,
  store: StoreKind,
): StoredCertificate {
  ensureStores(dataDir);
  if (existsSync(target) && !isThumbprintText(target)) return trustFile(dataDir, target, store);
  const found = findOne(dataDir, target, "rejected");
  const destination = join(trustedDir(dataDir, found.store), fileNameOf(found));
  renameSync(found.file, destination);
  giveToDataDirOwner(dataDir);
  return { ...found, status: "trusted", file: destination };
}

/** Withdraws trust: moves a trusted certificate back to rejected, where it can be trusted again. */
export function rejectCertificate(dataDir: string, target: string): StoredCertificate {
  ensureStores(dataDir);
  const found = findOne(dataDir, target, "trusted");
  const destination = join(rejectedDir(dataDir, found.store), fileNameOf(found));
  renameSync(found.file, destination);
  giveToDataDirOwner(dataDir);
  return { ...found, status: "rejected", file: destination };
}

function trustFile(dataDir: string, file: string, store: StoreKind): StoredCertificate {
  const certificate = parse(file, store, "trusted");
  if (certificate === undefined) {
    throw new GatewayError("CLI_USAGE", `${file} is not a PEM or DER X.509 certificate`);
  }
  if (store === "applications" && certificate.uris.length === 0) {
    throw new GatewayError(
      "CLI_USAGE",
      `${file} has no subjectAltName URI, so it cannot be an OPC UA application certificate; ` +
        "add --user if it is a user's certificate",
    );
  }
  const destination = join(trustedDir(dataDir, store), fileNameOf(certificate));
  const pem = new X509Certificate(readFileSync(file)).toString();
  writeFileSync(destination, pem, { mode: 0o644 });
  // A copy the server rejected earlier would otherwise stay listed as rejected.
  for (const stale of readFolder(rejectedDir(dataDir, store), store, "rejected")) {
    if (stale.thumbprint === certificate.thumbprint) rmSync(stale.file);
  }
  giveToDataDirOwner(dataDir);
  return { ...certificate, file: destination };
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
    (entry) => entry.status === status && entry.thumbprint.startsWith(wanted),
  );
  if (matches.length === 1) return matches[0] as StoredCertificate;
  const what =
    matches.length === 0
      ? `no ${status} certificate has`
      : `${matches.length} ${status} certificates have`;
  throw new GatewayError(
    "CLI_USAGE",
    `${what} thumbprint ${wanted}; run iomt-gateway opcua list and give the full thumbprint`,
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
