/**
 * Every MQTT payload the agent publishes, as zod schemas. The TypeScript types, the JSON
 * Schemas in docs/schemas/ and the AsyncAPI document all derive from these.
 */
import { z } from "zod";

const isoTime = z.string().describe("ISO 8601 time in UTC, such as 2026-12-04T16:07:18.123Z");

export const deviceStates = ["connecting", "negotiating", "connected", "stale", "lost"] as const;

export const gatewayStatePayload = z
  .object({
    state: z.enum(["online", "offline"]),
    /** Changes at every start, so a consumer can tell a restart from a reconnect. */
    sessionId: z.string(),
    since: isoTime,
    site: z.string(),
    gateway: z.string(),
    agentVersion: z.string(),
  })
  .describe("Retained. Set to offline by the broker (last will) when the agent vanishes.");

/** A count since the agent started; counts never go down. */
const count = (description: string) => z.number().int().nonnegative().describe(description);

const countersSchema = z
  .object({
    bytesIn: count("Bytes received from the device"),
    bytesOut: count("Bytes sent to the device: requests, keep-alives and acknowledgements"),
    frames: count(
      "Frames cut from the byte stream, bad ones included: a frame that then fails its " +
        "checksum or decoding counts here and in checksumErrors or decodeErrors",
    ),
    checksumErrors: count("Frames whose checksum or frame check sequence was wrong; skipped"),
    decodeErrors: count(
      "Frames, or parts of frames, the decoder could not read (bad layout, an HL7 message " +
        "without a readable MSH, an invalid device time); skipped",
    ),
    discardedBytes: count(
      "Bytes that became no frame: noise between frames, oversized frames, half frames at a " +
        "reconnect",
    ),
    oversizeFrames: count("Frames longer than the profile's maxFrameBytes; each counts once"),
    unmappedValues: count("Values whose device code the profile does not map; see unmappedCodes"),
    invalidValues: count(
      "Mapped values published as null with absentReason invalid: not a number, a unit other " +
        "than the profile's deviceUnits, or outside its validRange",
    ),
    unexpectedFrames: count("Valid frames that answered no request; values dropped"),
    reconnects: count("Times the link went down after it was open"),
  })
  .describe("Link and decoding counters of this device since the agent started");

export const deviceStatePayload = z
  .object({
    deviceId: z.string(),
    state: z.enum(deviceStates),
    since: isoTime,
    reason: z.string().optional(),
    link: z.string().describe("Link description, such as serial /dev/ttyUSB0 9600 8N1"),
    profile: z.string().describe("Profile id@version"),
    lastFrameAgeMs: z.number().int().nullable(),
    counters: countersSchema,
    unmappedCodes: z
      .record(z.string(), z.number().int())
      .describe("Device codes with no mapping and how often each was seen"),
  })
  .describe("Retained. Published on every state change and with each health report.");

export const deviceInfoPayload = z
  .object({
    deviceId: z.string(),
    manufacturer: z.string(),
    model: z.string(),
    serialNumber: z.string().nullable(),
    firmware: z.string().nullable(),
    profile: z.object({ id: z.string(), version: z.string(), name: z.string() }),
  })
  .describe("Retained. Published when the device reports its identity.");

export const observationSchema = z.object({
  mdcCode: z.number().int().describe("IEEE 11073-10101 context-free code"),
  mdcRefId: z.string().describe("IEEE 11073-10101 reference id, such as MDC_PULS_OXIM_SAT_O2"),
  deviceCode: z.string().describe("The device's own code for the value"),
  value: z.number().nullable(),
  absentReason: z.enum(["absent", "invalid"]).optional().describe("Why value is null"),
  unit: z.string().describe("UCUM unit code"),
});

const recordIdentity = {
  messageId: z
    .string()
    .describe("Unique per record; deduplicate on it (delivery is at least once)"),
  deviceId: z.string(),
  seq: z.number().int().describe("Per-device sequence number; grows across restarts"),
  replayed: z
    .boolean()
    .describe(
      "True for records sent late: made while the broker was away or by an earlier run, or sent over 10 s after they were made (for wave segments, after their samples were taken)",
    ),
};

export const observationsPayload = z
  .object({
    ...recordIdentity,
    receivedAt: isoTime.describe("When the gateway received the frame"),
    deviceTime: z.string().optional().describe("The device's own time stamp, as it sent it"),
    profile: z.string(),
    observations: z.array(observationSchema),
  })
  .describe(
    "QoS 1. The measurements decoded from one frame. replayed is true when the broker was away as the frame arrived.",
  );

export const waveSegmentSchema = z.object({
  startTime: isoTime.describe(
    "Estimated time of the first sample: by the device's clock when it sends one with the samples and that clock agrees with the profile's sample period, else receive time less the samples' duration",
  ),
  receivedAt: isoTime.describe("When the gateway received the last samples of the segment"),
  deviceTime: z
    .string()
    .optional()
    .describe(
      "The device's own time stamp of the segment's first frame, as it sent it. For IntelliVue it is the poll reply's time, about the end of that reply's samples rather than the segment's start.",
    ),
  mdcCode: z.number().int().describe("IEEE 11073-10101 code of the wave"),
  mdcRefId: z.string(),
  deviceCode: z.string().describe("The device's own code for the wave"),
  unit: z.string().describe("UCUM unit of sample * scale + offset"),
  samplePeriodMs: z.number().describe("Time between two samples"),
  scale: z.number(),
  offset: z.number(),
  samples: z
    .array(z.number().int().nullable())
    .describe("Samples as the device sent them, oldest first; null marks an invalid sample"),
});

export const waveSegmentsPayload = z
  .object({
    ...recordIdentity,
    profile: z.string(),
    segments: z
      .array(waveSegmentSchema)
      .min(1)
      .describe(
        "Consecutive samples of one wave each, batched until they span the profile's " +
          "waveSegmentMs. A new segment of a wave starts after a gap in its signal.",
      ),
  })
  .describe(
    "QoS 1. The wave segments of one device that became complete together. A monitor's waves usually fill their segments on the same frame, so one message carries a segment of each.",
  );

export const alarmPayload = z
  .object({
    ...recordIdentity,
    time: isoTime,
    source: z
      .enum(["device", "technical"])
      .describe("technical: raised by the gateway, such as a lost link"),
    alarmCode: z.string(),
    state: z.enum(["active", "cleared"]),
    priority: z.number().int().optional(),
    text: z.string(),
  })
  .describe("QoS 1. One alarm becoming active or cleared.");

export const auditEvents = [
  "agent-started",
  "agent-stopped",
  "config-loaded",
  "profile-loaded",
  "certificate-loaded",
  "certificate-rejected",
  "tls-handshake-failed",
  "egress-denied",
  "allowlist-loaded",
  "allowlist-changed",
  "allowlist-resolve-failed",
  "firewall-applied",
  "firewall-failed",
] as const;

export const auditPayload = z
  .object({
    messageId: recordIdentity.messageId,
    seq: z
      .number()
      .int()
      .describe("Sequence number of the gateway's audit records; grows across restarts"),
    replayed: recordIdentity.replayed,
    time: isoTime,
    sessionId: z.string(),
    event: z.enum(auditEvents),
    severity: z.enum(["info", "warning", "error"]),
    text: z.string().describe("What happened, in one sentence for a log view"),
    details: z
      .record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]),
      )
      .describe(
        "Facts of the event, such as file and sha256, destination and reason, or addresses. " +
          "Never patient data or key material; suppressed counts events of the same kind " +
          "left out in the minute before",
      ),
  })
  .describe(
    "QoS 1. One security event. Also kept on the gateway in <dataDir>/audit.jsonl, rotated by size.",
  );

export const healthPayload = z
  .object({
    time: isoTime,
    sessionId: z.string(),
    agentVersion: z.string(),
    uptimeSeconds: z.number(),
    system: z.object({
      load1: z.number(),
      load5: z.number(),
      load15: z.number(),
      memoryTotalMb: z.number(),
      memoryAvailableMb: z.number(),
      cpuTemperatureC: z.number().nullable().describe("null where the board has no sensor"),
    }),
    disk: z.object({ path: z.string(), totalMb: z.number(), freeMb: z.number() }),
    process: z.object({ rssMb: z.number(), heapUsedMb: z.number() }),
    uplink: z.object({
      connected: z.boolean(),
      queuedRecords: z.number().int(),
      published: z.number().int(),
      droppedRecords: z.number().int().describe("Records dropped because the queue was full"),
      rejectedRecords: z.number().int().describe("Records the broker refused, such as by its ACL"),
    }),
    outbox: z.object({
      records: z.number().int().describe("Records waiting for the broker's acknowledgement"),
      bytes: z.number().int(),
      fileBytes: z.number().int().describe("Size of the outbox database on disk"),
      oldestAgeMs: z.number().int().nullable(),
      droppedRecords: z.number().int().describe("Records dropped by the size or age bound"),
      deliveredPerSecond: z
        .number()
        .describe("Acknowledged records per second since the last report"),
    }),
    egress: z.object({
      allowlistSource: z
        .enum(["configured", "derived"])
        .describe("derived: no egress.allowlist, only the broker and device servers are allowed"),
      allowlistSha256: z.string().describe("Changes with every rule and every resolved address"),
      unresolvedNames: z.array(z.string()).describe("Allowlist names with no address yet"),
      deniedByAgent: z.number().int().describe("Connections the agent refused since it started"),
      firewall: z.object({
        managed: z.boolean().describe("egress.firewall.manage"),
        applied: z.boolean(),
        reason: z.string().describe("Why the ruleset is or is not applied"),
        appliedAt: isoTime.nullable(),
        droppedOutPackets: z
          .number()
          .int()
          .nullable()
          .describe("Outbound packets the firewall dropped since it was applied; null unknown"),
        droppedInPackets: z.number().int().nullable(),
      }),
    }),
    certificates: z.object({
      clientCertNotAfter: isoTime,
      clientCertDaysLeft: z.number().int().describe("Negative once expired; renew well before 0"),
      opcuaServerCertNotAfter: isoTime.optional().describe("Only when the OPC UA server runs"),
      opcuaServerCertDaysLeft: z.number().int().optional().describe("Negative once expired"),
    }),
    devices: z.array(
      z.object({
        deviceId: z.string(),
        state: z.enum(deviceStates),
        lastFrameAgeMs: z.number().int().nullable(),
        counters: countersSchema,
      }),
    ),
  })
  .describe("Retained. Published every health.intervalMs.");

export type GatewayStatePayload = z.infer<typeof gatewayStatePayload>;
export type DeviceStatePayload = z.infer<typeof deviceStatePayload>;
export type DeviceInfoPayload = z.infer<typeof deviceInfoPayload>;
export type ObservationsPayload = z.infer<typeof observationsPayload>;
export type AlarmPayload = z.infer<typeof alarmPayload>;
export type WaveSegmentsPayload = z.infer<typeof waveSegmentsPayload>;
export type HealthPayload = z.infer<typeof healthPayload>;
export type AuditPayload = z.infer<typeof auditPayload>;
export type AuditEvent = (typeof auditEvents)[number];
export type EgressHealth = HealthPayload["egress"];
export type DeviceState = (typeof deviceStates)[number];
