/**
 * Checks the OPC UA server's application certificate and key before the agent starts, with
 * node:crypto only, so `check` and an MQTT-only start never load node-opcua.
 */
import type { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { hostname as machineName } from "node:os";
import type { OpcuaConfig } from "../config/schema.js";
import type { Problem } from "../config/problems.js";
import { checkKeyPermissions, parseCertificates, parseKey, readPem } from "../mqtt/tls.js";

export interface OpcuaCertificate {
  certFile: string;
  keyFile: string;
  applicationUri: string;
  /** When the server certificate expires, as an ISO time, for health. */
  notAfter: string;
  /** Settings that work but that some clients may refuse, for `check` and the start log. */
  warnings: string[];
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
    const keyType = cert.publicKey.asymmetricKeyType?.toUpperCase() ?? "non-RSA";
    problem(
      "certFile",
      `${certFile} has ${/^[AEFHILMNORSX]/.test(keyType) ? "an" : "a"} ${keyType} key; the OPC UA ` +
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
  const warnings = [hostnameWarning(opcua, cert), signWarning(opcua)].flatMap((w) => w ?? []);
  return { ok: true, certificate: { certFile, keyFile, applicationUri, notAfter, warnings } };
}

/**
 * Returns a warning when the host name in the endpoint URLs is not a subjectAltName DNS name or
 * IP address of the certificate: clients that check it refuse the server.
 */
function hostnameWarning(opcua: OpcuaConfig, cert: X509Certificate): string | undefined {
  const host = opcua.hostname ?? machineName();
  const matched =
    isIP(host) === 0 ? cert.checkHost(host, { subject: "never" }) : cert.checkIP(host);
  if (matched !== undefined) return undefined;
  const names = (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((name) => name.startsWith("DNS:") || name.startsWith("IP Address:"));
  const where =
    opcua.hostname === undefined
      ? `opcua.hostname is not set, so the endpoint URLs use the machine name ${host}, which`
      : `opcua.hostname ${host} is in the endpoint URLs, but it`;
  return (
    `${where} is not in the subjectAltName of ${opcua.certFile ?? "certFile"} ` +
    `(it has ${names.join(", ") || "no DNS name or IP address"}); clients that check the host name ` +
    `refuse the server. Issue the certificate with DNS:${host}, or set opcua.hostname to a name it carries`
  );
}

function signWarning(opcua: OpcuaConfig): string | undefined {
  if (!opcua.securityModes.includes("Sign")) return undefined;
  return (
    "opcua.securityModes lists Sign: clients may then read values unencrypted, readable by " +
    "anyone on the network; remove Sign unless a client cannot encrypt"
  );
}

/** Rejects a server that offers no encrypted endpoint; Sign alone sends values readable on the wire. */
export function securityModeProblems(opcua: OpcuaConfig): string[] {
  if (!opcua.enabled || opcua.securityModes.includes("SignAndEncrypt")) return [];
  return [
    `opcua.securityModes is [${opcua.securityModes.join(", ")}] without SignAndEncrypt, so every ` +
      "value would cross the network unencrypted; add SignAndEncrypt (Sign may stay for clients " +
      "that cannot encrypt)",
  ];
}
