/**
 * The MQTT uplink: one mqtt.js client over mutually authenticated TLS. Records (observations,
 * alarms) are read from the durable outbox in the order they were appended, as soon as they are
 * appended, and sent with QoS 1; each is deleted from the outbox on its PUBACK. At most `inFlightWindow` are
 * handed to mqtt.js at once, which resends them after a reconnect until the broker acknowledges.
 * Retained topics (states, health) keep only their latest payload and are re-sent on connect.
 */
import type { IClientOptions } from "mqtt";
// The client alone: mqtt's index also bundles its WebSocket and SOCKS transports (about
// 190 KiB of the bundle), and the agent opens its own TLS stream through the egress guard.
import MqttClient from "mqtt/lib/client";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { redactUrl } from "../config/redact-url.js";
import type { BrokerConfig } from "../config/schema.js";
import { brokerDestination } from "../egress/destinations.js";
import { openGuardedStream } from "../egress/mqtt-stream.js";
import type { EgressGuard } from "../egress/guard.js";
import { messageOf } from "../errors.js";
import { RateLimitedWarning, type Logger } from "../log.js";
import type { Outbox } from "../outbox/outbox.js";
import type { StoredRecord } from "../outbox/store.js";
import { withoutSystemCaAdvice, type TlsMaterial } from "./tls.js";

export interface UplinkOptions {
  broker: BrokerConfig;
  tls: TlsMaterial;
  clientId: string;
  /** Topic and payload the broker publishes, retained, if the agent vanishes. */
  will: { topic: string; payload: string };
  outbox: Outbox;
  inFlightWindow: number;
  /** Every connection to the broker is opened through it, at the allowlist's pinned addresses. */
  guard: EgressGuard;
  /** Called with each failed connection attempt, such as a TLS handshake failure or a denial. */
  onConnectError?: (error: Error) => void;
  log: Logger;
}

const warningIntervalMs = 60_000;

export class MqttUplink {
  private client: MqttClient | undefined;
  /** Records read ahead of sending, oldest first. */
  private readAhead: StoredRecord[] = [];
  /** The newest record id handed to mqtt.js or to readAhead. */
  private lastReadId = 0;
  private readonly retained = new Map<string, string>();
  private inFlight = 0;
  private publishedCount = 0;
  private rejectedCount = 0;
  /** The broker's MQTT 5 Maximum Packet Size from CONNACK, when it sends one. */
  private maxPacketBytes: number | undefined;
  private connectedValue = false;
  /** Monotonic time of the last CONNACK, to tell a broker that drops us at once. */
  private connectedAtMs = 0;
  private everConnected = false;
  private startedAtMs: number | undefined;
  /** Connections in a row that the broker closed soon after accepting them. */
  private shortConnections = 0;
  private stopping = false;
  /** The CA bundle, certificate and key for the next connection. */
  private tls: TlsMaterial;
  /** The material of the connection being opened or open now. */
  private connectionTls: TlsMaterial | undefined;
  /** The end of a client that reconnect() replaced, which stop() waits for. */
  private ending: Promise<void> = Promise.resolve();

  private readonly warnings: RateLimitedWarning;

  constructor(private readonly options: UplinkOptions) {
    this.tls = options.tls;
    this.warnings = new RateLimitedWarning(options.log, warningIntervalMs);
    options.outbox.onAppend(() => this.drain());
  }

  get connected(): boolean {
    return this.connectedValue;
  }

  /**
   * True while the broker is away, so records made now are marked replayed when sent. Before
   * this run's first connection it is true only once that is lateAfterMs overdue: a device
   * that sends before the TLS handshake completes at start is still live, and so are the audit
   * events of the start, made before the uplink starts.
   */
  get away(): boolean {
    if (this.connectedValue) return false;
    if (this.everConnected) return true;
    if (this.startedAtMs === undefined) return false;
    return performance.now() - this.startedAtMs > lateAfterMs;
  }

  get queuedRecords(): number {
    return this.options.outbox.stats().records;
  }

  get published(): number {
    return this.publishedCount;
  }

  get dropped(): number {
    return this.options.outbox.stats().droppedRecords;
  }

  /** Records the broker refused (PUBACK reason code, or larger than its packet limit). */
  get rejected(): number {
    return this.rejectedCount;
  }

  start(): void {
    this.startedAtMs = performance.now();
    const options = this.clientOptions();
    const destination = brokerDestination(this.options);
    // The stream factory runs for every connection, so each one uses the newest TLS material.
    const client = new MqttClient(() => {
      this.connectionTls = this.tls;
      return openGuardedStream(this.options.guard, destination, { ...options, ...this.tlsFiles() });
    }, options);
    this.client = client;
    const log = this.options.log;
    const url = redactUrl(this.options.broker.url);
    const current = () => this.client === client;
    client.on("connect", (connack) => {
      if (!current()) return;
      // A renewal that arrived during the TLS handshake is used at once.
      if (this.connectionTls !== this.tls) {
        void this.reconnect();
        return;
      }
      this.connectedValue = true;
      this.everConnected = true;
      this.connectedAtMs = performance.now();
      this.maxPacketBytes = connack.properties?.maximumPacketSize;
      log.info("connected to broker", { url, maxPacketBytes: this.maxPacketBytes });
      for (const [topic, body] of this.retained) this.sendRetained(topic, body);
      this.drain();
    });
    client.on("close", () => {
      if (!current()) return;
      if (this.connectedValue && !this.stopping) this.warnClosed(url);
      this.connectedValue = false;
    });
    client.on("disconnect", (packet) => {
      // MQTT 5 reason code 0x8E: another client connected with this client id, such as a
      // gateway cloned from the same SD card.
      const fields = { url, reasonCode: packet.reasonCode, clientId: this.options.clientId };
      if (packet.reasonCode === 0x8e) {
        log.error(
          "broker closed the session because another client uses the same client id; " +
            "give each gateway its own broker.clientId or gateway id",
          fields,
        );
      } else {
        log.warn("broker sent DISCONNECT", fields);
      }
    });
    client.on("error", (error) => {
      // A broker that stays away fails every reconnect; warn once a minute per kind of failure.
      const rawCode = (error as { code?: unknown }).code;
      const code =
        typeof rawCode === "string" || typeof rawCode === "number" ? String(rawCode) : "";
      this.options.onConnectError?.(error);
      this.warnings.warn(`connect:${code}:${messageOf(error)}`, "broker connection failed", {
        url,
        error: withoutSystemCaAdvice(messageOf(error)),
        code,
        hint: tlsHint(code, this.options.broker),
      });
    });
  }

  /**
   * Warns about a closed connection, with a hint once the broker closed several in a row soon
   * after accepting them. The usual causes are another client with the same id and, with MQTT
   * 3.1.1, a publish the broker's ACL refuses.
   */
  private warnClosed(url: string): void {
    const lastedMs = performance.now() - this.connectedAtMs;
    this.shortConnections = lastedMs < shortConnectionMs ? this.shortConnections + 1 : 0;
    if (this.shortConnections < 3) {
      this.options.log.warn("broker connection closed", { url });
      return;
    }
    this.warnings.warn(
      "closed-soon",
      "broker keeps closing the connection soon after accepting it",
      {
        url,
        connectionsInARow: this.shortConnections,
        clientId: this.options.clientId,
        hint:
          "another client may use the same client id (give each gateway its own broker.clientId " +
          "or gateway id), or the broker's ACL may refuse this gateway's topics",
      },
    );
  }

  /**
   * Uses `tls` for every later connection, and closes the current one so that the new
   * certificate is used now rather than after the next outage. Records in flight get their PUBACK
   * before the DISCONNECT (or go back to the outbox), so none is lost and their order is kept.
   */
  async replaceTls(tls: TlsMaterial): Promise<void> {
    this.tls = tls;
    // Without a connection, the next attempt already uses the new material.
    if (this.connectedValue) await this.reconnect();
  }

  /**
   * Ends the current connection with a DISCONNECT, so the broker does not publish the will,
   * and opens a new one through a new client. While the old client waits for the PUBACKs of
   * its records in flight, no record is handed to it. A broker that sends none within
   * `connectTimeoutMs` has its connection dropped, and the records go back to the outbox.
   */
  async reconnect(): Promise<void> {
    const old = this.client;
    if (old === undefined || this.stopping) return;
    this.client = undefined;
    this.connectedValue = false;
    const ending = this.endClient(old);
    this.ending = ending;
    await ending;
    if (this.stopping) return;
    this.options.log.info("reconnecting to the broker with new TLS material", {
      url: redactUrl(this.options.broker.url),
    });
    this.start();
  }

  private async endClient(client: MqttClient): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.broker.connectTimeoutMs);
    });
    const ended = client.endAsync(false).then(
      () => true,
      () => true,
    );
    const finished = await Promise.race([ended, timedOut]);
    clearTimeout(timer);
    if (finished) return;
    // mqtt.js calls back only on PUBACK, so give every record in flight back to the outbox.
    // NOTE: no test runs this path, because the e2e tests renew while the broker sends PUBACKs.
    for (const messageId of Object.keys(client.outgoing)) {
      client.removeOutgoingMessage(Number(messageId));
    }
    client.stream.destroy();
  }

  private tlsFiles(): Pick<ConnectionOptions, "ca" | "cert" | "key"> {
    return { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key };
  }

  /** Sets a retained topic's payload; sent now when connected and again after each reconnect. */
  setRetained(topic: string, payload: unknown): void {
    const body = JSON.stringify(payload);
    this.retained.set(topic, body);
    if (this.connectedValue) this.sendRetained(topic, body);
  }

  /** Publishes the final retained payloads, waits for what is in flight, then disconnects. */
  async stop(final: { topic: string; payload: unknown }[], timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    await this.ending;
    const client = this.client;
    if (client === undefined) return;
    const deadline = Date.now() + timeoutMs;
    if (this.connectedValue) {
      const finals = Promise.all(
        final.map(({ topic, payload }) =>
          client
            .publishAsync(topic, JSON.stringify(payload), { qos: 1, retain: true })
            .catch(() => undefined),
        ),
      );
      // A broker that stopped responding must not delay the shutdown past timeoutMs.
      await settledWithin(finals, timeoutMs);
      await waitUntil(() => this.inFlight === 0, deadline - Date.now());
    }
    const unsent = this.queuedRecords;
    if (unsent > 0) this.options.log.warn("stopping with records not acknowledged", { unsent });
    const ended = client.endAsync(!this.connectedValue || Date.now() >= deadline);
    await settledWithin(ended, 1000);
    if (client.connected || !client.disconnected) client.end(true);
  }

  private clientOptions(): IClientOptions & ConnectionOptions {
    const { broker, will } = this.options;
    const url = new URL(broker.url);
    // URL keeps the brackets of an IPv6 literal, which TLS would check as a DNS name.
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const servername = broker.servername ?? (isIP(host) === 0 ? host : undefined);
    return {
      protocol: "mqtts",
      host,
      port: url.port === "" ? 8883 : Number(url.port),
      protocolVersion: broker.mqttVersion === "5" ? 5 : 4,
      clientId: this.options.clientId,
      clean: true,
      keepalive: broker.keepAliveSeconds,
      connectTimeout: broker.connectTimeoutMs,
      reconnectPeriod: broker.reconnectPeriodMs,
      reconnectOnConnackError: true,
      // By default mqtt-packet writes each packet id from a table of 65,536 two-byte Buffers,
      // which keeps about 7 MB of heap for the life of the process. Writing the two bytes
      // costs less.
      writeCache: false,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ...(servername === undefined ? {} : { servername }),
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
    };
  }

  private sendRetained(topic: string, body: string): void {
    this.client?.publish(topic, body, { qos: 1, retain: true }, (error) => {
      // mqtt.js passes null, not undefined, on success.
      if (!error || this.stopping) return;
      // A refused retained topic (such as by an ACL) leaves consumers with stale state.
      this.warnings.warn(`retained:${topic}:${error.message}`, "retained publish failed", {
        topic,
        error: error.message,
      });
    });
  }

  private reject(record: StoredRecord, reason: string): void {
    this.rejectedCount++;
    this.options.outbox.acknowledge(record);
    this.warnings.warn(
      `rejected:${record.topic}:${reason}`,
      "broker rejected a record; it is dropped",
      {
        device: record.deviceId,
        topic: record.topic,
        reason,
        rejected: this.rejectedCount,
      },
    );
  }

  /** Reads records ahead of sending; an empty result means nothing is waiting. */
  private nextRecord(): StoredRecord | undefined {
    if (this.readAhead.length === 0) {
      this.readAhead = this.options.outbox.readAfter(this.lastReadId, readAheadRecords);
      const last = this.readAhead.at(-1);
      if (last !== undefined) this.lastReadId = last.id;
    }
    return this.readAhead.shift();
  }

  private drain(): void {
    const client = this.client;
    if (client === undefined || !this.connectedValue) return;
    while (this.inFlight < this.options.inFlightWindow) {
      const record = this.nextRecord();
      if (record === undefined) return;
      // A packet is the topic, the body and about 10 bytes of header. One over the broker's
      // limit makes it close the connection, so the record would block every record behind it.
      // The replayed field is ASCII, so its characters are its bytes.
      const body = withReplayed(record, this.options.outbox.startMaxId);
      const packetBytes = record.bytes + (body.length - record.body.length) + 10;
      if (this.maxPacketBytes !== undefined && packetBytes > this.maxPacketBytes) {
        this.reject(
          record,
          `${packetBytes} bytes exceed the broker's maximum packet size ${this.maxPacketBytes}`,
        );
        continue;
      }
      this.inFlight++;
      client.publish(record.topic, body, { qos: 1 }, (error) => this.settle(record, error));
    }
  }

  private settle(record: StoredRecord, error: Error | undefined): void {
    this.inFlight--;
    // NOTE: mosquitto 2.0.11 replies to a PUBLISH over its message_size_limit with a PUBACK
    // reason code that mqtt-packet cannot parse, so the connection drops and the record is
    // sent again on every reconnect. Keep the broker's limit above the largest payload.
    const reasonCode = (error as { code?: unknown } | undefined)?.code;
    if (typeof reasonCode === "number" && reasonCode >= 0x80) {
      // The broker refused this record (MQTT 5 PUBACK reason code); resending cannot help.
      this.reject(record, `${error?.message ?? ""} (reason code 0x${reasonCode.toString(16)})`);
    } else if (error) {
      // mqtt.js gave up on it (the client ended): read it again from the outbox next time.
      this.lastReadId = Math.min(this.lastReadId, record.id - 1);
      this.options.outbox.release(record);
      for (const unsent of this.readAhead) this.options.outbox.release(unsent);
      this.readAhead = [];
      return;
    } else {
      this.publishedCount++;
      this.options.outbox.acknowledge(record);
    }
    this.drain();
  }
}

/** Records read from the outbox per query. */
const readAheadRecords = 256;

/**
 * A record sent this long after it was made is marked replayed even if the uplink did not know
 * the broker was away, as happens while keep-alive has not yet found a dead connection.
 */
const lateAfterMs = 10_000;

/**
 * Adds `replayed` to a stored body: true for a record made while the broker was away, made by
 * an earlier run of the agent, or sent late, since consumers must not show it as live.
 */
function withReplayed(record: StoredRecord, startMaxId: number): string {
  const late = Date.now() - record.createdMs > lateAfterMs;
  const replayed = record.offline || record.id <= startMaxId || late;
  return `{"replayed":${replayed},${record.body.slice(1)}`;
}

/**
 * Waits for `promise` or `timeoutMs`, whichever comes first, and clears its timer: a timer
 * left running would keep the process alive that long after the agent stopped.
 */
async function settledWithin(promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([promise.then(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A connection the broker closes within this long after CONNACK counts as dropped at once. */
const shortConnectionMs = 10_000;

/** Returns what to check for the usual TLS and connection failures, or undefined. */
function tlsHint(code: string, broker: BrokerConfig): string | undefined {
  switch (code) {
    case "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA":
    case "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED":
      return `the broker does not accept ${broker.certFile}; check that the site CA issued it`;
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return `the broker's certificate is not issued by a CA in ${broker.caFile}`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "the broker's certificate does not name this host; fix broker.url or set broker.servername";
    case "CERT_HAS_EXPIRED":
      return "the broker's certificate or its CA has expired; check the gateway's clock, then renew the broker's certificate";
    case "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED":
      return `the broker says ${broker.certFile} has expired; renew it`;
    case "ECONNREFUSED":
      return "nothing listens on the broker's port; check broker.url and the broker";
    default:
      return undefined;
  }
}
