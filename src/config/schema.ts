/**
 * The one schema for the agent's YAML configuration. Types, defaults and the JSON Schema in
 * docs/schemas/config.schema.json all derive from it.
 */
import { z } from "zod";
import { baudRates } from "../profiles/common.js";
import { auditSchema, egressSchema } from "./egress-schema.js";

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const id = (what: string) =>
  z
    .string()
    .regex(
      idPattern,
      `must be 1-63 letters, digits, "-" or "_", starting with a letter or digit (${what})`,
    );

const serialLinkSchema = z
  .object({
    kind: z.literal("serial"),
    /** Any path, including /dev/serial/by-id/... symlinks, which survive re-plugging. */
    path: z.string().min(1),
    /** Overrides the profile's baud rate, for a device configured to another speed. */
    baudRate: z
      .number()
      .int()
      .refine((value) => (baudRates as readonly number[]).includes(value), {
        message: `must be one of ${baudRates.join(", ")}`,
      })
      .optional(),
  })
  .strict();

const tcpLinkSchema = z
  .object({
    kind: z.literal("tcp"),
    /** The serial device server's address; its port carries the device's raw bytes. */
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

export const linkSchema = z.discriminatedUnion("kind", [serialLinkSchema, tcpLinkSchema]);

const deviceSchema = z
  .object({
    id: id("device id"),
    /** A profile id from firmware-profiles/, such as masimo-radical7-ascii1. */
    profile: z.string().min(1),
    link: linkSchema,
    /** Overrides the profile's quiet time after which the device's data is stale. */
    quietTimeMs: z.number().int().min(500).max(600_000).optional(),
  })
  .strict();

/** Returns what is wrong with an mqtts:// URL beyond its scheme, or undefined. */
function brokerUrlProblem(url: URL): string | undefined {
  if (url.hostname === "")
    return "must name the broker's host, such as mqtts://broker.example.org:8883";
  if (url.port === "0") return "must have a port from 1 to 65535 (0 is not a port)";
  if (url.username !== "" || url.password !== "") {
    return "must not contain a user name or password: the client certificate identifies the gateway";
  }
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    return "must be only mqtts://host:port, with no path, query or fragment";
  }
  return undefined;
}

const brokerSchema = z
  .object({
    url: z
      .string()
      .refine((value) => value.startsWith("mqtts://"), {
        message:
          "must start with mqtts:// because the agent sends clinical data only over TLS; " +
          "ask for the broker's TLS port (usually 8883)",
      })
      .refine((value) => URL.canParse(value), { message: "must be a valid URL" })
      .refine((value) => !URL.canParse(value) || brokerUrlProblem(new URL(value)) === undefined, {
        error: (issue) => brokerUrlProblem(new URL(String(issue.input))) ?? "is invalid",
      }),
    /** The site CA bundle: the only roots trusted for the broker (not the system's). */
    caFile: z.string().min(1),
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    /**
     * How often the agent checks caFile, certFile and keyFile for a renewal, and reconnects
     * with new files that pass every start check. 30 s lets a renewal take effect well within
     * a minute for the cost of three stat calls.
     */
    tlsReloadCheckMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /** Name to verify in the broker's certificate when url names an IP address. */
    servername: z.string().min(1).optional(),
    /** MQTT keep-alive. A half-open connection is noticed after about 1.5 times this. */
    keepAliveSeconds: z.number().int().min(5).max(600).default(20),
    connectTimeoutMs: z.number().int().min(1000).max(120_000).default(10_000),
    reconnectPeriodMs: z.number().int().min(100).max(300_000).default(2000),
    clientId: z.string().min(1).max(128).optional(),
    /** MQTT 5 by default; 3.1.1 for brokers without MQTT 5. The agent needs no MQTT 5 feature. */
    mqttVersion: z.enum(["5", "3.1.1"]).default("5"),
  })
  .strict();

const reconnectSchema = z
  .object({
    /** First wait after a link is lost; doubles per failure up to maxDelayMs. */
    initialDelayMs: z.number().int().min(50).max(60_000).default(500),
    maxDelayMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict()
  .refine((value) => value.maxDelayMs >= value.initialDelayMs, {
    message: "maxDelayMs must be at least initialDelayMs",
  });

export const opcuaSecurityPolicies = [
  "Basic256Sha256",
  "Aes256_Sha256_RsaPss",
  "Aes128_Sha256_RsaOaep",
] as const;

/**
 * The optional OPC UA server (src/opcua/). Off by default: node-opcua costs about 1.5 s of start
 * and 120-190 MB of memory, which an MQTT-only gateway should not pay.
 */
const opcuaSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Address to listen on; 0.0.0.0 for every interface. */
    host: z.string().min(1).default("0.0.0.0"),
    port: z.number().int().min(1).max(65535).default(4840),
    /** Host name put in the endpoint URLs clients connect to; defaults to the machine's name. */
    hostname: z.string().min(1).optional(),
    /** Must equal the URI in the server certificate's subjectAltName. */
    applicationUri: z.string().min(1).optional(),
    /** The server's application certificate (PEM, RSA) and its private key. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** SignAndEncrypt only by default; Sign (signed, readable on the wire) only when listed. */
    securityModes: z
      .array(z.enum(["SignAndEncrypt", "Sign"]))
      .min(1)
      .default(["SignAndEncrypt"]),
    securityPolicies: z
      .array(z.enum(opcuaSecurityPolicies))
      .min(1)
      .default(["Basic256Sha256", "Aes256_Sha256_RsaPss"]),
    maxSessions: z.number().int().min(1).max(100).default(10),
    /**
     * Optional file of user names with scrypt password hashes (`iomt-gateway opcua passwd`).
     * Without it, users log in with X.509 certificates only.
     */
    usersFile: z.string().min(1).optional(),
  })
  .strict()
  .refine(
    (value) => !value.enabled || (value.certFile !== undefined && value.keyFile !== undefined),
    {
      message:
        "certFile and keyFile are required when enabled: the server needs its own application certificate",
    },
  );

export const configSchema = z
  .object({
    site: id("site id"),
    gateway: id("gateway id"),
    /** First levels of every topic; versioned so a payload change can move to v2. */
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, "must be topic levels without wildcards")
      .default("iomt/v1"),
    /** Folder for the agent's state (the outbox database); must be writable. */
    dataDir: z.string().min(1),
    /** Extra folder of firmware profiles, searched before the built-in ones. */
    profilesDir: z.string().min(1).optional(),
    log: z
      .object({
        level: z.enum(["debug", "info", "warn", "error"]).default("info"),
        format: z.enum(["text", "json"]).default("json"),
      })
      .strict()
      .default({ level: "info", format: "json" }),
    broker: brokerSchema,
    health: z
      .object({ intervalMs: z.number().int().min(1000).max(3_600_000).default(30_000) })
      .strict()
      .default({ intervalMs: 30_000 }),
    reconnect: reconnectSchema.default({ initialDelayMs: 500, maxDelayMs: 30_000 }),
    outbox: z
      .object({
        /** Disk space for records waiting for the broker; 64 MiB is days of 16 devices at 1 Hz. */
        maxBytes: z
          .number()
          .int()
          .min(65_536)
          .max(16 * 1024 ** 3)
          .default(64 * 1024 ** 2),
        /** Records older than this are dropped: a day-old vital sign is history, not monitoring. */
        maxAgeMs: z
          .number()
          .int()
          .min(60_000)
          .max(30 * 86_400_000)
          .default(86_400_000),
        /**
         * The policy of a full outbox. drop-oldest (default) keeps the newest measurements
         * flowing, which is what bedside monitoring needs after a long outage. refuse-new keeps
         * the start of the outage complete and drops what comes after.
         */
        whenFull: z.enum(["drop-oldest", "refuse-new"]).default("drop-oldest"),
        /**
         * Maximum time a record waits in memory before its batch is committed, and so the
         * worst-case loss on a power cut and the delay it adds before publishing. Default 1 s:
         * measured (docs/benchmarks.md), a 100 ms window writes 3.4 times the bytes per record
         * that a 1 s window does, which wears an SD card out years sooner.
         */
        flushIntervalMs: z.number().int().min(5).max(5000).default(1000),
      })
      .strict()
      .default({
        maxBytes: 64 * 1024 ** 2,
        maxAgeMs: 86_400_000,
        whenFull: "drop-oldest",
        flushIntervalMs: 1000,
      }),
    /** How often a serial link checks that its port path still exists. */
    linkWatchMs: z.number().int().min(100).max(60_000).default(1000),
    opcua: opcuaSchema.default({
      enabled: false,
      host: "0.0.0.0",
      port: 4840,
      securityModes: ["SignAndEncrypt"],
      securityPolicies: ["Basic256Sha256", "Aes256_Sha256_RsaPss"],
      maxSessions: 10,
    }),
    /** Ids and links must be unique; src/config/duplicates.ts checks that beside the schema. */
    devices: z.array(deviceSchema).min(1, "must list at least one device"),
    /** The egress allowlist and the host firewall; see docs/egress.md. */
    egress: egressSchema.optional(),
    audit: auditSchema,
  })
  .strict();

export type GatewayConfig = z.infer<typeof configSchema>;
export type DeviceConfig = GatewayConfig["devices"][number];
export type LinkConfig = DeviceConfig["link"];
export type BrokerConfig = GatewayConfig["broker"];
export type OpcuaConfig = GatewayConfig["opcua"];
