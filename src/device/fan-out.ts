/** Hands every record of a supervisor to several sinks, such as MQTT and the OPC UA server. */
import type { DeviceSink } from "./supervisor.js";

export function fanOut(sinks: readonly DeviceSink[]): DeviceSink {
  if (sinks.length === 1) return sinks[0] as DeviceSink;
  return {
    observations: (batch, receivedAtMs) => {
      for (const sink of sinks) sink.observations(batch, receivedAtMs);
    },
    waveSegments: (segments, emittedAtMs) => {
      for (const sink of sinks) sink.waveSegments(segments, emittedAtMs);
    },
    alarm: (change, source, atMs) => {
      for (const sink of sinks) sink.alarm(change, source, atMs);
    },
    identity: (identity) => {
      for (const sink of sinks) sink.identity(identity);
    },
    state: (status) => {
      for (const sink of sinks) sink.state(status);
    },
    persist: () => sinks.every((sink) => sink.persist()),
  };
}
