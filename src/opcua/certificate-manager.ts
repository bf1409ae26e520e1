/**
 * node-opcua's certificate manager for one trust list (client applications or X.509 users), with
 * two changes: every refused certificate is logged with its reason and the fix, and a trusted
 * certificate is never moved back to rejected/ by the server.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { OPCUACertificateManager, StatusCodes, type StatusCode } from "node-opcua";
import type { Logger } from "../log.js";
import { storeDir, type StoreKind } from "./trust-store.js";

type Certificate = Buffer;
type StatusCodeCallback = (error: Error | null, statusCode?: StatusCode) => void;

/** A refusal of the same certificate for the same reason is logged once in this time. */
export const refusalLogIntervalMs = 60_000;
/** Bounds the rate limiter's memory when many different certificates are refused. */
const maxRememberedRefusals = 1000;

export class TrustListCertificateManager extends OPCUACertificateManager {
  private readonly lastLogged = new Map<string, number>();

  /**
   * `keyFile` is the server's own key (opcua.keyFile). Given to node-opcua, it keeps the manager
   * from generating an unused own/private/private_key.pem in the trust list.
   */
  constructor(
    dataDir: string,
    keyFile: string,
    private readonly store: StoreKind,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // Unknown certificates go to rejected/ and stay refused until `iomt-gateway opcua trust`.
    super({
      rootFolder: storeDir(dataDir, store),
      automaticallyAcceptUnknownCertificate: false,
      privateKeyProvider: {
        getPrivateKey: () => Promise.resolve({ hidden: createPrivateKey(readFileSync(keyFile)) }),
      },
    });
  }

  // node-opcua calls both forms: a promise for application certificates, a callback for users.
  override checkCertificate(chain: Certificate | Certificate[]): Promise<StatusCode>;
  override checkCertificate(chain: Certificate | Certificate[], callback: StatusCodeCallback): void;
  override checkCertificate(
    chain: Certificate | Certificate[],
    callback?: StatusCodeCallback,
  ): Promise<StatusCode> | undefined {
    const checked = this.check(Array.isArray(chain) ? chain : [chain]);
    if (callback === undefined) return checked;
    checked.then(
      (statusCode) => callback(null, statusCode),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
    return undefined;
  }

  /**
   * Verifies the chain as node-opcua's own checkCertificate does (the leaf, or its issuing CA,
   * must be in trusted/). node-opcua would move every certificate of an incomplete chain to
   * rejected/, even a leaf the technician trusted. Here only a leaf that is not trusted is
   * written to rejected/, for review with `iomt-gateway opcua list`.
   */
  private async check(certificates: Certificate[]): Promise<StatusCode> {
    const [leaf] = certificates;
    if (leaf === undefined) return StatusCodes.BadCertificateInvalid;
    const status = await this.verifyCertificate(Buffer.concat(certificates), {
      acceptCertificateWithValidIssuerChain: true,
    });
    const reason: string = status;
    if (reason === "Good") return StatusCodes.Good;
    const trusted = (await this.isCertificateTrusted(leaf)) === "Good";
    if (!trusted && reason !== "BadCertificateInvalid") await this.rejectCertificate(leaf);
    this.logRefusal(leaf, reason, trusted);
    return StatusCodes[status];
  }

  private logRefusal(leaf: Certificate, reason: string, trusted: boolean): void {
    const { thumbprint, subject } = describeCertificate(leaf);
    const key = `${thumbprint}:${reason}`;
    const nowMs = this.now();
    const last = this.lastLogged.get(key);
    if (last !== undefined && nowMs - last < refusalLogIntervalMs) return;
    if (this.lastLogged.size >= maxRememberedRefusals) this.lastLogged.clear();
    this.lastLogged.set(key, nowMs);
    const kind = this.store === "users" ? "user" : "application";
    this.log.warn(`opcua ${kind} certificate refused`, {
      store: this.store,
      thumbprint,
      subject,
      reason,
      trusted,
      fix: fixFor(reason, this.store, thumbprint, trusted),
    });
  }
}

function describeCertificate(der: Certificate): { thumbprint: string; subject: string } {
  try {
    const certificate = new X509Certificate(der);
    return {
      thumbprint: certificate.fingerprint.replace(/:/g, "").toLowerCase(),
      subject: certificate.subject.replace(/\n/g, ", "),
    };
  } catch {
    return { thumbprint: "unknown", subject: "not a parseable X.509 certificate" };
  }
}

/** Returns the technician's next step for a refusal reason of node-opcua-pki's verifyCertificate. */
function fixFor(reason: string, store: StoreKind, thumbprint: string, trusted: boolean): string {
  const folder = `<dataDir>/opcua/${store}`;
  const user = store === "users" ? " --user" : "";
  switch (reason) {
    case "BadCertificateUntrusted":
      return `compare the thumbprint with the client's, then run iomt-gateway opcua trust ${thumbprint}${user}`;
    case "BadCertificateChainIncomplete":
      return `the issuing CA certificate is missing: put it in ${folder}/issuers/certs and its CRL in ${folder}/issuers/crl`;
    case "BadCertificateRevocationUnknown":
      return `the issuing CA's CRL is missing: put it in ${folder}/issuers/crl (or trusted/crl for a trusted CA)`;
    case "BadCertificateTimeInvalid":
    case "BadCertificateIssuerTimeInvalid":
      return "the certificate (or its CA) has expired or is not valid yet: issue a new one, or check the gateway's clock";
    case "BadCertificateRevoked":
    case "BadCertificateIssuerRevoked":
      return "the CA revoked this certificate; the client needs a new one";
    default:
      return trusted
        ? "the certificate is trusted but failed the check; see the reason and issue a new one"
        : `check the certificate; if it is right, run iomt-gateway opcua trust ${thumbprint}${user}`;
  }
}
