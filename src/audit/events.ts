/** The audit events of the agent's start, of TLS material and of failed broker connections. */
import { X509Certificate, createHash } from "node:crypto";
import { hostname } from "node:os";
import { formatProblem, type Problem } from "../config/problems.js";
import type { BrokerConfig } from "../config/schema.js";
import { withoutSystemCaAdvice, type TlsMaterial } from "../mqtt/tls.js";
import type { Prepared } from "../preflight.js";
import { agentVersion } from "../version.js";
import type { AuditTrail } from "./trail.js";

const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

/** Records the start with the hashes of the configuration, the profiles and the certificates. */
export function auditStart(audit: AuditTrail, prepared: Prepared): void {
  const { config, configFile, configSha256, tls } = prepared;
  audit.record("agent-started", "info", "agent started", {
    version: agentVersion,
    host: hostname(),
    site: config.site,
    gateway: config.gateway,
  });
  audit.record("config-loaded", "info", "configuration loaded", {
    file: configFile,
    sha256: configSha256,
  });
  const used = new Set(config.devices.map((device) => device.profile));
  for (const id of [...used].sort()) {
    const loaded = prepared.profiles.get(id);
    if (loaded === undefined) continue;
    audit.record("profile-loaded", "info", `profile ${id} loaded`, {
      profile: `${loaded.profile.id}@${loaded.profile.version}`,
      file: loaded.file,
      sha256: loaded.sha256,
    });
  }
  auditTlsLoaded(audit, config.broker, tls, "loaded");
}

/**
 * Records the client certificate and the CA bundle in use, at start ("loaded") or after a
 * renewal ("reloaded"). Certificates are public; their fingerprints identify them. The key is
 * never read here.
 */
export function auditTlsLoaded(
  audit: AuditTrail,
  broker: BrokerConfig,
  tls: TlsMaterial,
  verb: "loaded" | "reloaded",
): void {
  const client = new X509Certificate(tls.cert);
  audit.record("certificate-loaded", "info", `client certificate ${verb}`, {
    file: broker.certFile,
    subject: client.subject.replace(/\n/g, ", "),
    issuer: client.issuer.replace(/\n/g, ", "),
    serialNumber: client.serialNumber,
    notAfter: tls.clientCertNotAfter,
    fingerprint256: client.fingerprint256,
  });
  audit.record("certificate-loaded", "info", `site CA bundle ${verb}`, {
    file: broker.caFile,
    sha256: sha256(tls.ca),
  });
}

/** Records new TLS files that failed a check and were not used. */
export function auditTlsRejected(audit: AuditTrail, problems: readonly Problem[]): void {
  audit.record(
    "certificate-rejected",
    "warning",
    "new client certificate files rejected; the current certificate stays in use",
    {
      files: [...new Set(problems.map((problem) => problem.path))],
      problems: problems.map(formatProblem),
    },
  );
}

/** Errors of node:tls when the agent rejects the broker's certificate. */
const brokerCertificateCodes = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
]);

/**
 * Records a failed broker connection when it is a security event: the agent rejected the
 * broker's certificate, or the TLS handshake failed (such as the broker rejecting the client
 * certificate). Refused connections and timeouts are not; a denial is audited by the guard.
 */
export function auditConnectError(audit: AuditTrail, error: Error, broker: string): void {
  const raw = (error as { code?: unknown }).code;
  const code = typeof raw === "string" ? raw : "";
  if (brokerCertificateCodes.has(code)) {
    audit.recordRepeated(
      `certificate:${code}`,
      "certificate-rejected",
      "warning",
      "the broker's certificate was rejected",
      { peer: broker, code, error: withoutSystemCaAdvice(error.message) },
    );
    return;
  }
  if (
    code.startsWith("ERR_SSL_") ||
    code.startsWith("ERR_TLS_") ||
    /handshake/i.test(error.message)
  ) {
    audit.recordRepeated(
      `tls:${code}`,
      "tls-handshake-failed",
      "warning",
      "TLS handshake with the broker failed",
      { peer: broker, code, error: withoutSystemCaAdvice(error.message) },
    );
  }
}
