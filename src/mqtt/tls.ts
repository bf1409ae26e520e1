/**
 * Reads and checks the broker's TLS material: the site CA bundle, the client certificate and
 * its private key. Every problem is reported, so `check` can print them all at once.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { BrokerConfig } from "../config/schema.js";
import { messageOf } from "../errors.js";
import type { Problem } from "../config/problems.js";

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** When the client certificate expires, as an ISO time, for health. */
  clientCertNotAfter: string;
}

const dayMs = 86_400_000;

/** Whole days from `now` until `notAfter`; negative once expired. */
export function daysUntil(notAfter: string, now = new Date()): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / dayMs);
}

export interface TlsChecks {
  /** The time the certificates must be valid at. Default: now. */
  now?: Date;
  /** The user that must own the key file; undefined skips the check (no POSIX user ids). */
  uid?: number | undefined;
}

export type TlsReadResult = { ok: true; tls: TlsMaterial } | { ok: false; problems: Problem[] };

/**
 * Reads the three files and runs every check of the agent's start on them, so a reload accepts
 * only material the agent would also start with.
 */
export function readTlsMaterial(
  broker: BrokerConfig,
  configFile: string,
  checks: TlsChecks = {},
): TlsReadResult {
  const now = checks.now ?? new Date();
  const problems: Problem[] = [];
  const problem = (setting: string, message: string) =>
    problems.push({ file: configFile, path: `broker.${setting}`, message });

  const ca = readPem(broker.caFile, "caFile", problem);
  const cert = readPem(broker.certFile, "certFile", problem);
  const key = readPem(broker.keyFile, "keyFile", problem);
  checkKeyPermissions(broker.keyFile, problem);
  const owner = keyOwnerProblem(broker.keyFile, checks.uid);
  if (owner !== undefined) problem("keyFile", owner);

  const caCerts = ca === undefined ? [] : parseCertificates(ca, "caFile", broker.caFile, problem);
  const clientCerts =
    cert === undefined ? [] : parseCertificates(cert, "certFile", broker.certFile, problem);
  const privateKey = key === undefined ? undefined : parseKey(key, broker.keyFile, problem);
  const client = clientCerts[0];

  let notAfter = "";
  if (client !== undefined) {
    notAfter = new Date(client.validTo).toISOString();
    checkValidity(client, broker.certFile, now, problem);
    if (privateKey !== undefined && !client.checkPrivateKey(privateKey)) {
      problem(
        "keyFile",
        `${broker.keyFile} is not the private key of ${broker.certFile}; use the key made with the CSR`,
      );
    }
    if (caCerts.length > 0 && !chainsToCa(client, clientCerts.slice(1), caCerts)) {
      problem(
        "certFile",
        `${broker.certFile} was not issued by a CA in ${broker.caFile}; the broker would reject it`,
      );
    }
    const purposes = client.keyUsage;
    if (purposes !== undefined && !purposes.includes(clientAuthOid)) {
      problem(
        "certFile",
        `${broker.certFile} is not for TLS clients (extended key usage ${purposes.join(", ")}); ` +
          "request a certificate with extendedKeyUsage clientAuth",
      );
    }
    if (client.ca) {
      problem(
        "certFile",
        `${broker.certFile} is a CA certificate (basic constraints CA:TRUE), which a broker ` +
          "rejects as a client's; use the gateway's own certificate, issued by that CA",
      );
    }
  }
  for (const caCert of caCerts) {
    if (Date.parse(caCert.validTo) <= now.getTime()) {
      problem(
        "caFile",
        `${broker.caFile} holds a CA certificate (${caCert.subject.replace(/\n/g, ", ")}) that expired on ${caCert.validTo}`,
      );
    }
  }
  if (problems.length > 0 || ca === undefined || cert === undefined || key === undefined) {
    return { ok: false, problems };
  }
  return { ok: true, tls: { ca, cert, key, clientCertNotAfter: notAfter } };
}

export type Report = (setting: string, message: string) => void;

/** OID of the extended key usage "TLS web client authentication" (RFC 5280, 4.2.1.12). */
const clientAuthOid = "1.3.6.1.5.5.7.3.2";
/** Intermediate CAs followed from the client certificate up to a CA in caFile. */
const maxChainDepth = 5;

/**
 * Returns true when `leaf` is signed, directly or through intermediates sent with it, by a
 * certificate in `cas`. Signatures are verified, not only names compared.
 */
function chainsToCa(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  cas: X509Certificate[],
): boolean {
  let current = leaf;
  for (let depth = 0; depth <= maxChainDepth; depth++) {
    const signedBy = (issuer: X509Certificate) =>
      current.checkIssued(issuer) && current.verify(issuer.publicKey);
    if (cas.some(signedBy)) return true;
    const next = intermediates.find(signedBy);
    if (next === undefined) return false;
    current = next;
  }
  return false;
}

export function readPem(file: string, setting: string, problem: Report): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    problem(
      setting,
      `cannot read ${file}: ${messageOf(error)}; fix the path, or install the file from the site's PKI`,
    );
    return undefined;
  }
}

export function checkKeyPermissions(file: string, problem: Report): void {
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      const octal = mode.toString(8).padStart(4, "0");
      problem(
        "keyFile",
        `${file} can be read by other users (mode ${octal}); run chmod 600 ${file}`,
      );
    }
  } catch {
    // readPem already reported a missing file.
  }
}

export function parseCertificates(
  pem: Buffer,
  setting: string,
  file: string,
  problem: Report,
): X509Certificate[] {
  const blocks =
    pem.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ??
    [];
  if (blocks.length === 0) {
    problem(setting, `${file} contains no PEM certificate; expected -----BEGIN CERTIFICATE-----`);
    return [];
  }
  const certificates: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      problem(setting, `${file} contains an invalid certificate: ${messageOf(error)}`);
    }
  }
  return certificates;
}

export function parseKey(pem: Buffer, file: string, problem: Report): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    problem(
      "keyFile",
      `${file} is not a readable private key (${messageOf(error)}); use an unencrypted PEM key`,
    );
    return undefined;
  }
}

function checkValidity(cert: X509Certificate, file: string, now: Date, problem: Report): void {
  if (Date.parse(cert.validTo) <= now.getTime()) {
    problem("certFile", `${file} expired on ${cert.validTo}; enrol the gateway again`);
  }
  if (Date.parse(cert.validFrom) > now.getTime()) {
    problem("certFile", `${file} is not valid before ${cert.validFrom}; check the gateway's clock`);
  }
}

/**
 * Returns a message when the key file is not owned by `uid`, the user running the check.
 * The mode check alone passes a key of another user for root, but the agent's user must own
 * its key. Returns undefined when the file cannot be read, which readTlsMaterial reports.
 */
export function keyOwnerProblem(keyFile: string, uid: number | undefined): string | undefined {
  if (uid === undefined) return undefined;
  let owner: number;
  try {
    owner = statSync(keyFile).uid;
  } catch {
    return undefined;
  }
  if (owner === uid) return undefined;
  return (
    `${keyFile} is owned by uid ${owner}, not by the user running this check (uid ${uid}). ` +
    "The agent's user must own its key, so chown the key to that user and run check as that user"
  );
}

/**
 * Removes Node's advice to use the system CA store from a TLS error. The agent trusts only the
 * site CA bundle on purpose, so that advice would lead a technician the wrong way.
 */
export function withoutSystemCaAdvice(message: string): string {
  return message
    .split(";")
    .filter((part) => !part.includes("--use-system-ca"))
    .join(";");
}
