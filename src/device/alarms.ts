/**
 * Tracks which device alarms are active, so that a snapshot of the device's current alarms
 * becomes "active" events for new alarms and "cleared" events for alarms that went away.
 */
import type { RawAlarm } from "../protocols/types.js";

export interface AlarmChange {
  alarmCode: string;
  state: "active" | "cleared";
  priority?: number;
  text: string;
}

export class AlarmTracker {
  private readonly active = new Map<string, RawAlarm>();

  apply(alarms: readonly RawAlarm[], snapshot: boolean): AlarmChange[] {
    const changes: AlarmChange[] = [];
    const present = new Set<string>();
    for (const alarm of alarms) {
      present.add(alarm.deviceCode);
      if (this.active.has(alarm.deviceCode)) continue;
      this.active.set(alarm.deviceCode, alarm);
      changes.push({
        alarmCode: alarm.deviceCode,
        state: "active",
        priority: alarm.priority,
        text: alarm.text,
      });
    }
    if (!snapshot) return changes;
    for (const [code, alarm] of this.active) {
      if (present.has(code)) continue;
      this.active.delete(code);
      changes.push({
        alarmCode: code,
        state: "cleared",
        priority: alarm.priority,
        text: alarm.text,
      });
    }
    return changes;
  }

  get activeCount(): number {
    return this.active.size;
  }
}
