/**
 * An RSA certificate authority for the OPC UA trust tests: its certificate, an empty CRL, and
 * client application certificates it issues, all as PEM files.
 */
import { webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const dayMs = 24 * 60 * 60 * 1000;

export interface TestCa {
  cert: string;
  crl: string;
  /** Issues a client application certificate with subjectAltName URI `uri`. */
  issue(name: string, uri: string): Promise<{ cert: string; key: string }>;
}

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(
    { ...algorithm, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  );
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex");
}

export async function createTestCa(dir: string): Promise<TestCa> {
  x509.cryptoProvider.set(webcrypto);
  mkdirSync(dir, { recursive: true });
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - dayMs);
  const notAfter = new Date(Date.now() + 30 * dayMs);
  const flags = x509.KeyUsageFlags;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=Test hospital CA, O=iomt-gateway tests",
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(flags.keyCertSign | flags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate: notBefore,
    nextUpdate: notAfter,
    signingAlgorithm: algorithm,
    signingKey: keys.privateKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey)],
  });
  const ca = { cert: join(dir, "ca.pem"), crl: join(dir, "ca.crl") };
  writeFileSync(ca.cert, caCert.toString("pem"));
  writeFileSync(ca.crl, crl.toString("pem"));

  const issue = async (name: string, uri: string) => {
    const leafKeys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${name}, O=iomt-gateway tests`,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: leafKeys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          flags.digitalSignature |
            flags.nonRepudiation |
            flags.keyEncipherment |
            flags.dataEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: uri }]),
      ],
    });
    const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
    writeFileSync(files.cert, cert.toString("pem"));
    writeFileSync(files.key, x509.PemConverter.encode(pkcs8, "PRIVATE KEY"), { mode: 0o600 });
    return files;
  };
  return { ...ca, issue };
}
