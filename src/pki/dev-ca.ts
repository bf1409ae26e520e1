/**
 * A development PKI made in pure JavaScript, so that `npm start` and the tests need only Node and
 * npm: a CA, a broker (server) certificate, client certificates, and an untrusted rogue CA with one
 * client for negative tests. It is unfit for a real deployment, because the CA key is stored next
 * to the certificates it signs.
 */
import { randomBytes, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";

// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
// The import must come before @peculiar/x509's.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

import { GatewayError } from "../errors.js";

export interface DevPkiOptions {
  /** Extra DNS names or IP addresses for the server certificate, besides localhost and 127.0.0.1. */
  serverNames?: string[];
  /** Client certificates to issue, one per name, used as CN and file name. Default: ["client"]. */
  clients?: string[];
  /** Validity of every certificate in days, 1…3650. Default: 365. */
  days?: number;
  /** File mode of every key file. Default: 0o600, so that only the owner can read a key. */
  keyMode?: number;
}

export interface CertificatePaths {
  cert: string;
  key: string;
}

/** Absolute paths of the PEM files that `createDevPki` wrote. */
export interface DevPki {
  dir: string;
  ca: CertificatePaths;
  server: CertificatePaths;
  /** One entry per requested client name. */
  clients: Record<string, CertificatePaths>;
  /** The rogue CA's certificate. Its key is never written, so nothing else can be signed by it. */
  rogueCa: { cert: string };
  /** A client certificate signed by the rogue CA, with the CN of the first client (or "client"). */
  rogueClient: CertificatePaths;
}

// ECDSA P-256, because its keys are fast to generate and mosquitto 2.0.11 with OpenSSL 3 accepts
// them for server and client certificates (test/pki.test.ts connects with them).
const keyAlgorithm: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const signingAlgorithm: webcrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

// Validity starts an hour in the past, so that a peer whose clock runs slightly behind still
// accepts a certificate issued a moment ago.
const backdateMs = 60 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;
const maxDays = 3650;
const defaultDays = 365;
const defaultKeyMode = 0o600;
const certificateMode = 0o644;

const reservedNames = new Set(["ca", "server", "rogue-ca", "rogue-client"]);
const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Host names per RFC 1123 section 2.1: labels of 1…63 letters, digits and inner hyphens.
const dnsLabel = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const dnsNamePattern = new RegExp(`^(?=.{1,253}$)${dnsLabel}(?:\\.${dnsLabel})*$`);

interface Issuer {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * Creates the development PKI in `dir` and returns the paths of its files. Files that already
 * exist with these names are replaced. Throws CONFIG_INVALID for a bad option, naming the value.
 */
export async function createDevPki(dir: string, options: DevPkiOptions = {}): Promise<DevPki> {
  const clientNames = options.clients ?? ["client"];
  const serverNames = options.serverNames ?? [];
  const days = options.days ?? defaultDays;
  const keyMode = options.keyMode ?? defaultKeyMode;
  validateOptions(clientNames, serverNames, days, keyMode);

  // @peculiar/x509 signs and hashes through the WebCrypto provider registered here.
  x509.cryptoProvider.set(webcrypto);
  const now = Date.now();
  const validity = {
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + days * dayMs),
  };
  const root = path.resolve(dir);
  await mkdir(root, { recursive: true });
  const write = (name: string, pem: string, mode: number) =>
    writeFileAtomic(path.join(root, name), pem, mode);

  const ca = await createCa("iomt-gateway development CA", validity);
  await write("ca.crt", ca.cert.toString("pem"), certificateMode);
  await write("ca.key", await exportPrivateKey(ca.keys), keyMode);

  const server = await createLeaf(ca, "localhost", "server", validity, serverNames);
  await write("server.crt", server.cert, certificateMode);
  await write("server.key", server.key, keyMode);

  const clients: Record<string, CertificatePaths> = {};
  for (const name of clientNames) {
    const client = await createLeaf(ca, name, "client", validity);
    await write(`${name}.crt`, client.cert, certificateMode);
    await write(`${name}.key`, client.key, keyMode);
    clients[name] = paths(root, name);
  }

  // The rogue client copies a real client's CN, so a negative test shows that the issuer's
  // signature, not the name, is what the broker checks.
  const rogueCa = await createCa("iomt-gateway rogue CA", validity);
  const rogueClient = await createLeaf(rogueCa, clientNames[0] ?? "client", "client", validity);
  await write("rogue-ca.crt", rogueCa.cert.toString("pem"), certificateMode);
  await write("rogue-client.crt", rogueClient.cert, certificateMode);
  await write("rogue-client.key", rogueClient.key, keyMode);

  return {
    dir: root,
    ca: paths(root, "ca"),
    server: paths(root, "server"),
    clients,
    rogueCa: { cert: path.join(root, "rogue-ca.crt") },
    rogueClient: paths(root, "rogue-client"),
  };
}

export interface ClientCertificateOptions {
  /** The subject's CN, such as the name of the certificate it renews. Default: `name`. */
  commonName?: string;
  /** Validity in days, 1…3650. Default: 365. */
  days?: number;
}

/**
 * Issues one more client certificate from the CA of an existing development PKI, as a site's
 * PKI does when it renews a gateway's certificate. Writes `<name>.crt` and `<name>.key` in the
 * PKI's folder and returns their paths.
 */
export async function issueClientCertificate(
  pki: DevPki,
  name: string,
  options: ClientCertificateOptions = {},
): Promise<CertificatePaths> {
  const days = options.days ?? defaultDays;
  validateOptions([name], [], days, defaultKeyMode);
  x509.cryptoProvider.set(webcrypto);
  const cert = new x509.X509Certificate(await readFile(pki.ca.cert, "utf8"));
  const pkcs8 = x509.PemConverter.decode(await readFile(pki.ca.key, "utf8"))[0];
  if (pkcs8 === undefined) {
    throw new GatewayError("CONFIG_INVALID", `dev PKI: ${pki.ca.key} contains no PEM key`);
  }
  const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, keyAlgorithm, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey(
    "spki",
    cert.publicKey.rawData,
    keyAlgorithm,
    true,
    ["verify"],
  );
  const now = Date.now();
  const validity = {
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + days * dayMs),
  };
  const issuer = { cert, keys: { publicKey, privateKey } };
  const client = await createLeaf(issuer, options.commonName ?? name, "client", validity);
  const files = paths(pki.dir, name);
  await writeFileAtomic(files.cert, client.cert, certificateMode);
  await writeFileAtomic(files.key, client.key, defaultKeyMode);
  return files;
}

function validateOptions(
  clientNames: string[],
  serverNames: string[],
  days: number,
  keyMode: number,
): void {
  const problems: string[] = [];
  for (const name of clientNames) {
    if (!fileNamePattern.test(name) || reservedNames.has(name)) {
      problems.push(
        `client name ${JSON.stringify(name)} must be 1…64 letters, digits, '.', '_' or '-', ` +
          `start with a letter or digit, and not be one of ${[...reservedNames].join(", ")}`,
      );
    }
  }
  if (new Set(clientNames).size !== clientNames.length) {
    problems.push(`client names must be unique (got ${clientNames.join(", ")})`);
  }
  for (const name of serverNames) {
    if (isIP(name) === 0 && !dnsNamePattern.test(name)) {
      problems.push(
        `server name ${JSON.stringify(name)} must be a DNS name or an IP address; ` +
          `wildcards are not supported`,
      );
    }
  }
  // The upper bound catches seconds or milliseconds passed where days are expected.
  if (!Number.isInteger(days) || days < 1 || days > maxDays) {
    problems.push(`days must be an integer in 1…${maxDays} (got ${days})`);
  }
  if (!Number.isInteger(keyMode) || keyMode < 0 || keyMode > 0o777) {
    problems.push(`keyMode must be a file mode in 0o000…0o777 (got ${keyMode})`);
  }
  if (problems.length > 0) {
    throw new GatewayError("CONFIG_INVALID", `dev PKI: ${problems.join("; ")}`);
  }
}

async function createCa(commonName: string, validity: Validity): Promise<Issuer> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=${commonName}`,
    ...validity,
    keys,
    signingAlgorithm,
    extensions: [
      // pathLength 0: this CA signs only end-entity certificates.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function createLeaf(
  issuer: Issuer,
  commonName: string,
  role: "server" | "client",
  validity: Validity,
  extraServerNames: string[] = [],
): Promise<{ cert: string; key: string }> {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // digitalSignature only. RFC 8813, an update to RFC 5480 section 3, states that certificates
    // for EC keys do not set keyEncipherment or dataEncipherment, because EC keys encrypt nothing.
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [role === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  ];
  if (role === "server") {
    extensions.push(new x509.SubjectAlternativeNameExtension(serverAltNames(extraServerNames)));
  }

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${commonName}`,
    issuer: issuer.cert.subject,
    ...validity,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm,
    extensions,
  });
  return { cert: cert.toString("pem"), key: await exportPrivateKey(keys) };
}

function serverAltNames(extraNames: string[]): x509.JsonGeneralName[] {
  const names: x509.JsonGeneralName[] = [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
  ];
  for (const name of extraNames) {
    const type = isIP(name) === 0 ? "dns" : "ip";
    if (!names.some((existing) => existing.type === type && existing.value === name)) {
      names.push({ type, value: name });
    }
  }
  return names;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]);
}

async function exportPrivateKey(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

/** Returns 16 random bytes as hex; RFC 5280 section 4.1.2.2 allows serial numbers up to 20 octets. */
function randomSerialNumber(): string {
  return randomBytes(16).toString("hex");
}

function paths(root: string, name: string): CertificatePaths {
  return { cert: path.join(root, `${name}.crt`), key: path.join(root, `${name}.key`) };
}

/**
 * Writes `text` to a new temporary file with `mode`, then renames it over `file`. So a key never
 * has a wider mode than `mode`, not even briefly while an older file with a looser mode is replaced.
 */
async function writeFileAtomic(file: string, text: string, mode: number): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, text, { mode, flag: "wx" });
    // The umask may have cleared bits of `mode` at creation, so set the exact mode again.
    await chmod(temporary, mode);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export interface OpcuaCertificateOptions {
  /** The subjectAltName URI: the application's applicationUri. Leave out for a user's certificate. */
  applicationUri?: string;
  /** Validity in days, 1…3650. Default: 365. */
  days?: number;
}

/**
 * Writes a self-signed RSA certificate and key for OPC UA as `<name>.crt` and `<name>.key` in
 * `dir`: a server's or client's application certificate, or an X.509 user's. OPC UA's RSA
 * security policies need RSA keys, and applications trust such certificates one by one rather
 * than through a CA.
 */
export async function createOpcuaCertificate(
  dir: string,
  name: string,
  options: OpcuaCertificateOptions = {},
): Promise<CertificatePaths> {
  const days = options.days ?? defaultDays;
  validateOptions([name], [], days, defaultKeyMode);
  x509.cryptoProvider.set(webcrypto);
  const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(
    { ...algorithm, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  );
  const now = Date.now();
  const altNames: x509.JsonGeneralName[] =
    options.applicationUri === undefined
      ? []
      : [{ type: "url", value: options.applicationUri }, ...serverAltNames([])];
  const flags = x509.KeyUsageFlags;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=${name}, O=iomt-gateway development`,
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + days * dayMs),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        flags.digitalSignature |
          flags.nonRepudiation |
          flags.keyEncipherment |
          flags.dataEncipherment |
          flags.keyCertSign,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // node-opcua treats a certificate without an authority key id equal to its subject key id
      // as CA-signed, and warns that its chain is incomplete.
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
      ...(altNames.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(altNames)]),
    ],
  });
  const root = path.resolve(dir);
  await mkdir(root, { recursive: true });
  const files = paths(root, name);
  await writeFileAtomic(files.cert, cert.toString("pem"), certificateMode);
  await writeFileAtomic(files.key, await exportPrivateKey(keys), defaultKeyMode);
  return files;
}
