/** Renders the JSON Schemas of the configuration, the profiles and every MQTT payload. */
import { z } from "zod";
import { configSchema } from "../config/schema.js";
import {
  alarmPayload,
  auditPayload,
  deviceInfoPayload,
  deviceStatePayload,
  gatewayStatePayload,
  healthPayload,
  observationsPayload,
  waveSegmentsPayload,
} from "../mqtt/payloads.js";
import { profileSchema } from "../profiles/schema.js";

const schemas: [string, z.ZodType, "input" | "output"][] = [
  // Files people write are documented as input, so settings with defaults are optional.
  ["config.schema.json", configSchema, "input"],
  ["profile.schema.json", profileSchema, "input"],
  ["gateway-state.schema.json", gatewayStatePayload, "output"],
  ["health.schema.json", healthPayload, "output"],
  ["device-state.schema.json", deviceStatePayload, "output"],
  ["device-info.schema.json", deviceInfoPayload, "output"],
  ["observations.schema.json", observationsPayload, "output"],
  ["alarm.schema.json", alarmPayload, "output"],
  ["wave-segments.schema.json", waveSegmentsPayload, "output"],
  ["audit.schema.json", auditPayload, "output"],
];

export function renderSchemas(): [string, string][] {
  return schemas.map(([name, schema, io]) => {
    const json = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
    return [name, `${JSON.stringify({ $id: name, ...json }, null, 2)}\n`];
  });
}
