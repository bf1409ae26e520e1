/**
 * Checks the OPC UA server's application certificate and key before the agent starts, with
 * node:crypto only, so `check` and an MQTT-only start never load node-opcua.
 */
import type { OpcuaConfig } from "../config/schema.js";
import type { Problem } from "../config/problems.js";
import { checkKeyPermissions, parseCertificates, parseKey, readPem } from "../mqtt/tls.js";

export interface OpcuaCertificate {
  certFile: string;
  keyFile: string;
  applicationUri: string;
  /** When the server certificate expires, as an ISO time, for health. */
  notAfter: string;
}

/** Returns the application URI used when the configuration names none. */
export function defaultApplicationUri(site: string, gateway: string): string {
  return `urn:iomt-gateway:${site}:${gateway}`;
}

/** Returns the URIs of a subjectAltName as node:crypto prints it ("URI:urn:..., DNS:..."). */
export function subjectAltUris(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? "")
    .split(/,\s*/)
    .filter((name) => name.startsWith("URI:"))
    .map((name) => name.slice("URI:".length));
}

export function readOpcuaCertificate(
  opcua: OpcuaConfig,
  applicationUri: string,
  configFile: string,
  now = new Date(),
): { ok: true; certificate: OpcuaCertificate } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  const problem = (setting: string, message: string) =>
    problems.push({ file: configFile, path: `opcua.${setting}`, message });
  const { certFile, keyFile } = opcua;
  if (certFile === undefined || keyFile === undefined) return { ok: false, problems };

  const certPem = readPem(certFile, "certFile", problem);
  const keyPem = readPem(keyFile, "keyFile", problem);
  checkKeyPermissions(keyFile, problem);
  const [cert] =
    certPem === undefined ? [] : parseCertificates(certPem, "certFile", certFile, problem);
  const key = keyPem === undefined ? undefined : parseKey(keyPem, keyFile, problem);
  if (cert === undefined || key === undefined) return { ok: false, problems };

  if (cert.publicKey.asymmetricKeyType !== "rsa") {
    problem(
      "certFile",
      `${certFile} has a ${cert.publicKey.asymmetricKeyType ?? "non-RSA"} key; the OPC UA ` +
        "security policies Basic256Sha256 and Aes256_Sha256_RsaPss need an RSA key (2048 bits or more)",
    );
  } else if (!cert.checkPrivateKey(key)) {
    problem("keyFile", `${keyFile} is not the private key of ${certFile}`);
  }
  const uris = subjectAltUris(cert.subjectAltName);
  if (!uris.includes(applicationUri)) {
    problem(
      "certFile",
      `${certFile} has no subjectAltName URI ${applicationUri} (it has ${uris.join(", ") || "none"}); ` +
        "OPC UA clients refuse a server whose certificate does not carry its applicationUri. " +
        "Issue the certificate with subjectAltName URI:" +
        `${applicationUri}, or set opcua.applicationUri to the URI it carries`,
    );
  }
  if (Date.parse(cert.validTo) <= now.getTime()) {
    problem("certFile", `${certFile} expired on ${cert.validTo}; issue a new server certificate`);
  }
  if (Date.parse(cert.validFrom) > now.getTime()) {
    problem(
      "certFile",
      `${certFile} is not valid before ${cert.validFrom}; check the gateway's clock`,
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  const notAfter = new Date(cert.validTo).toISOString();
  return { ok: true, certificate: { certFile, keyFile, applicationUri, notAfter } };
}
