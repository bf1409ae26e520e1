/**
 * A test subscriber that connects to a broker over mutually authenticated TLS, as a consumer of
 * the gateway's topics would, and records every message it receives.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";

import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

/** An MQTT quality-of-service level (MQTT 5.0 section 4.3). */
export type QoS = 0 | 1 | 2;

/** The PKI files the subscriber needs; a `DevPki` from src/pki/dev-ca.ts fits. */
export interface SubscriberPki {
  ca: { cert: string };
  clients: Record<string, { cert: string; key: string }>;
}

export interface SubscriberOptions {
  /** Host name that the server certificate must match. Default: "localhost". */
  servername?: string;
  /** Maximum wait in ms for CONNACK. Default: 5000. */
  connectTimeoutMs?: number;
  /** Wait in ms between reconnects after a lost connection; 0 turns reconnects off. Default: 0. */
  reconnectPeriodMs?: number;
  /** MQTT 5 session expiry in seconds; above 0 the broker keeps the session offline. Default: 0. */
  sessionExpiryIntervalS?: number;
}

export interface ReceivedMessage {
  topic: string;
  /** The payload parsed as JSON, or undefined when it is not valid JSON. */
  payload: unknown;
  /** The payload as UTF-8 text. */
  text: string;
  retain: boolean;
  qos: QoS;
}

export interface Subscriber {
  /** The underlying mqtt.js client, for publishing or checks that the helpers do not cover. */
  client: MqttClient;
  /** Every message received so far, in arrival order. */
  readonly messages: readonly ReceivedMessage[];
  /** Errors that the client emitted, such as refused reconnects, in order. */
  readonly errors: readonly Error[];
  /** Subscribes to `filter` with QoS 1 by default, and rejects when the broker rejects it. */
  subscribe(filter: string, qos?: QoS): Promise<void>;
  /**
   * Resolves with all messages that match `predicate`, received before or after the call, once
   * there are at least `count` of them. Rejects after `timeoutMs` with the topics received.
   */
  waitFor(
    predicate: (message: ReceivedMessage) => boolean,
    timeoutMs: number,
    count?: number,
  ): Promise<ReceivedMessage[]>;
  /** Disconnects and waits until the client has ended. Pending waits reject. */
  close(): Promise<void>;
}

const defaultConnectTimeoutMs = 5_000;

/**
 * Connects as client `clientName` of `pki` and resolves once the broker sent CONNACK. Rejects on
 * the first error before that, such as a TLS failure, and ends the client so it does not retry.
 */
export async function connectSubscriber(
  url: string,
  pki: SubscriberPki,
  clientName: string,
  options: SubscriberOptions = {},
): Promise<Subscriber> {
  const identity = pki.clients[clientName];
  if (identity === undefined) {
    const known = Object.keys(pki.clients).join(", ");
    throw new Error(`client ${JSON.stringify(clientName)} is not in the PKI (known: ${known})`);
  }

  // mqtt.connect, not connectAsync: connectAsync ends the client on its first error, so it could
  // not keep reconnecting through a broker restart. mqtt.js passes TLS options that its types do
  // not declare, such as minVersion, straight through to tls.connect.
  const tlsFloor: Pick<ConnectionOptions, "minVersion"> = { minVersion: "TLSv1.2" };
  const mqttOptions: IClientOptions = {
    protocolVersion: 5,
    clientId: `${clientName}-subscriber-${randomBytes(4).toString("hex")}`,
    ca: readFileSync(pki.ca.cert),
    cert: readFileSync(identity.cert),
    key: readFileSync(identity.key),
    servername: options.servername ?? "localhost",
    rejectUnauthorized: true,
    connectTimeout: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
    reconnectPeriod: options.reconnectPeriodMs ?? 0,
    clean: (options.sessionExpiryIntervalS ?? 0) === 0,
    properties: { sessionExpiryInterval: options.sessionExpiryIntervalS ?? 0 },
  };
  const client = mqtt.connect(url, { ...tlsFloor, ...mqttOptions });
  // Track before CONNACK: messages queued in a kept session can arrive in the same read as CONNACK.
  const subscriber = trackMessages(client);
  await waitForConnack(client);
  return subscriber;
}

async function waitForConnack(client: MqttClient): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const cleanUp = () => {
      client.off("connect", onConnect);
      client.off("error", onError);
      client.off("close", onClose);
    };
    const fail = (error: Error) => {
      cleanUp();
      client.end(true);
      reject(error);
    };
    const onConnect = () => {
      cleanUp();
      resolve();
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(new Error("connection closed before CONNACK"));
    client.on("connect", onConnect);
    client.on("error", onError);
    client.on("close", onClose);
  });
}

function trackMessages(client: MqttClient): Subscriber {
  const messages: ReceivedMessage[] = [];
  const errors: Error[] = [];
  const waiters = new Set<{ check: () => void; cancel: (error: Error) => void }>();

  // An 'error' event without a listener would throw, so record each one for the test to inspect.
  client.on("error", (error) => errors.push(error));
  client.on("message", (topic, payload, packet) => {
    const text = payload.toString("utf8");
    messages.push({
      topic,
      payload: parseJson(text),
      text,
      retain: packet.retain,
      qos: packet.qos,
    });
    for (const waiter of waiters) waiter.check();
  });

  const subscribe = async (filter: string, qos: QoS = 1) => {
    const grants = await client.subscribeAsync(filter, { qos });
    const refused = grants.filter((grant) => grant.qos === 128);
    if (refused.length > 0) {
      throw new Error(`broker rejected the subscription to ${filter} (SUBACK return code 128)`);
    }
  };

  const waitFor = (
    predicate: (message: ReceivedMessage) => boolean,
    timeoutMs: number,
    count = 1,
  ) =>
    new Promise<ReceivedMessage[]>((resolve, reject) => {
      const waiter = {
        check: () => {
          const matching = messages.filter(predicate);
          if (matching.length < count) return;
          finish();
          resolve(matching);
        },
        cancel: (error: Error) => {
          finish();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const found = messages.filter(predicate).length;
        const topics = [...new Set(messages.map((message) => message.topic))].join(", ");
        waiter.cancel(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${count} matching messages ` +
              `(found ${found}; received ${messages.length} on topics: ${topics || "none"})`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(waiter);
      };
      waiters.add(waiter);
      waiter.check();
    });

  const close = async () => {
    for (const waiter of waiters) waiter.cancel(new Error("subscriber closed while waiting"));
    await client.endAsync();
  };

  return { client, messages, errors, subscribe, waitFor, close };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse throws only SyntaxError. The raw payload stays available in `text`.
    return undefined;
  }
}
