/**
 * One device in the OPC UA address space: an object with its identity, link state and one
 * read-only variable per measurement of its profile, fed by the supervisor as a DeviceSink.
 * Loaded only with the OPC UA server (it imports node-opcua).
 */
import {
  DataType,
  StatusCodes,
  Variant,
  makeEUInformation,
  type Namespace,
  type StatusCode,
  type UAEventType,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import type { DeviceConfig } from "../config/schema.js";
import type { AlarmChange } from "../device/alarms.js";
import type { Identity, NumericsBatch } from "../device/pipeline.js";
import type { DeviceSink, DeviceStatus } from "../device/supervisor.js";
import type { Measurement } from "../device/measurements.js";
import type { MeasurementMapping } from "../profiles/common.js";
import type { Profile } from "../profiles/schema.js";
import { unitOfUcum } from "./units.js";

/** Status codes of a measurement by its value and its device's state (docs/opcua.md, "Status codes"). */
export const measurementStatus = {
  noValueYet: StatusCodes.BadWaitingForInitialData,
  /** The device sent its "no value" marker, such as --- from a pulse oximeter with no signal. */
  absent: StatusCodes.BadSensorFailure,
  /** The device sent text that is not a number. */
  invalid: StatusCodes.BadDataEncodingInvalid,
  /** No valid frame for the quiet time: the last value is kept and marked. */
  stale: StatusCodes.UncertainLastUsableValue,
  /** The link is down: the last value is kept and marked bad. */
  lost: StatusCodes.BadNoCommunication,
} as const;

interface MeasurementNode {
  variable: UAVariable;
  /** The last value and its source time, kept so a state change can re-mark it. */
  last?: { value: number | null; status: StatusCode; sourceMs: number };
}

const readOnly = { accessLevel: "CurrentRead", userAccessLevel: "CurrentRead" } as const;

/** The strings the device sends; the others come from the profile or the agent and stay Good. */
const deviceStrings = ["SerialNumber", "Firmware", "DeviceTime"] as const;
type DeviceString = (typeof deviceStrings)[number];

export class DeviceNode implements DeviceSink {
  private readonly measurements = new Map<string, MeasurementNode>();
  private readonly strings = new Map<string, UAVariable>();
  /** The last text of each device string, kept so a state change can re-mark it. */
  private readonly deviceText = new Map<DeviceString, string>();
  private linkState: DeviceStatus["state"] = "connecting";

  constructor(
    private readonly namespace: Namespace,
    readonly object: UAObject,
    private readonly device: DeviceConfig,
    private readonly profile: Profile,
    private readonly alarmEventType: UAEventType,
  ) {
    for (const name of ["Manufacturer", "Model", "SerialNumber", "Firmware", "Profile"]) {
      this.addString(name);
    }
    for (const name of ["LinkState", "LinkStateReason", "DeviceTime"]) this.addString(name);
    for (const name of deviceStrings) this.writeDeviceString(name);
    this.setString("Manufacturer", profile.manufacturer);
    this.setString("Model", profile.model);
    this.setString("Profile", `${profile.id}@${profile.version}`);
    this.setString("LinkState", this.linkState);
    for (const [deviceCode, mapping] of Object.entries(profile.measurements)) {
      this.addMeasurement(deviceCode, mapping);
    }
  }

  observations(batch: NumericsBatch, receivedAtMs: number): void {
    if (batch.deviceTime !== undefined) this.setDeviceString("DeviceTime", batch.deviceTime);
    for (const measurement of batch.measurements) {
      const node = this.measurements.get(measurement.deviceCode);
      if (node === undefined) continue;
      const status = statusOf(measurement);
      node.last = { value: measurement.value, status, sourceMs: receivedAtMs };
      this.write(node);
    }
  }

  // NOTE: waveform segments are published over MQTT only; the address space has no wave nodes yet.
  waveSegments(): void {}

  alarm(change: AlarmChange, source: "device" | "technical", atMs: number): void {
    const active = change.state === "active";
    this.object.raiseEvent(this.alarmEventType, {
      message: {
        dataType: DataType.LocalizedText,
        value: { text: `${change.alarmCode} ${change.state}: ${change.text}` },
      },
      severity: { dataType: DataType.UInt16, value: severityOf(source, active) },
      sourceName: { dataType: DataType.String, value: this.device.id },
      time: { dataType: DataType.DateTime, value: new Date(atMs) },
      alarmCode: { dataType: DataType.String, value: change.alarmCode },
      alarmState: { dataType: DataType.String, value: change.state },
      alarmSource: { dataType: DataType.String, value: source },
      ...(change.priority === undefined
        ? {}
        : { devicePriority: { dataType: DataType.Int32, value: change.priority } }),
    });
  }

  identity(identity: Identity): void {
    if (identity.model !== undefined) this.setString("Model", identity.model);
    if (identity.serialNumber !== undefined) {
      this.setDeviceString("SerialNumber", identity.serialNumber);
    }
    if (identity.firmware !== undefined) this.setDeviceString("Firmware", identity.firmware);
  }

  /** Returns true: the address space keeps only the latest values, so nothing is stored. */
  persist(): boolean {
    return true;
  }

  state(status: DeviceStatus): void {
    this.linkState = status.state;
    this.setString("LinkState", status.state);
    this.setString("LinkStateReason", status.reason ?? "");
    for (const node of this.measurements.values()) this.write(node);
    for (const name of deviceStrings) this.writeDeviceString(name);
  }

  /** Returns the status of a value the device sent, by the state of its link. */
  private statusOf(received: StatusCode): StatusCode {
    if (this.linkState === "stale") {
      return received === StatusCodes.Good ? measurementStatus.stale : received;
    }
    // Lost, or reopened (connecting, negotiating) with no frame yet: the value is still old.
    return this.linkState === "connected" ? received : measurementStatus.lost;
  }

  /** Writes a measurement's last value with the status its device state gives it. */
  private write(node: MeasurementNode): void {
    const last = node.last;
    if (last === undefined) return;
    const status = this.statusOf(last.status);
    const value =
      last.value === null
        ? new Variant({ dataType: DataType.Null })
        : new Variant({ dataType: DataType.Double, value: last.value });
    node.variable.setValueFromSource(value, status, new Date(last.sourceMs));
  }

  private addMeasurement(deviceCode: string, mapping: MeasurementMapping): void {
    const taken = [...this.measurements.values()].some(
      (node) => node.variable.browseName.name === mapping.mdcRefId,
    );
    const name = taken ? `${mapping.mdcRefId}_${deviceCode}` : mapping.mdcRefId;
    const variable = this.namespace.addVariable({
      componentOf: this.object,
      browseName: name,
      nodeId: `s=${this.device.id}.${name}`,
      description: `${mapping.mdcRefId} (MDC ${mapping.mdcCode}) in ${mapping.unit}, device code ${deviceCode}`,
      typeDefinition: "AnalogUnitType",
      dataType: "Double",
      minimumSamplingInterval: 0,
      ...readOnly,
    });
    variable.setValueFromSource(
      new Variant({ dataType: DataType.Null }),
      measurementStatus.noValueYet,
    );
    this.addProperty(variable, "EngineeringUnits", 0, "EUInformation", {
      dataType: DataType.ExtensionObject,
      value: euInformationOf(mapping.unit),
    });
    this.addProperty(variable, "MdcCode", undefined, "UInt32", {
      dataType: DataType.UInt32,
      value: mapping.mdcCode,
    });
    this.addProperty(variable, "MdcRefId", undefined, "String", {
      dataType: DataType.String,
      value: mapping.mdcRefId,
    });
    this.addProperty(variable, "UcumUnit", undefined, "String", {
      dataType: DataType.String,
      value: mapping.unit,
    });
    this.measurements.set(deviceCode, { variable });
  }

  private addProperty(
    owner: UAVariable,
    name: string,
    namespaceIndex: number | undefined,
    dataType: string,
    value: { dataType: DataType; value: unknown },
  ): void {
    this.namespace.addVariable({
      propertyOf: owner,
      browseName: namespaceIndex === undefined ? name : { name, namespaceIndex },
      nodeId: `s=${owner.nodeId.value as string}.${name}`,
      typeDefinition: "PropertyType",
      dataType,
      value: new Variant(value),
      ...readOnly,
    });
  }

  private addString(name: string): void {
    const variable = this.namespace.addVariable({
      componentOf: this.object,
      browseName: name,
      nodeId: `s=${this.device.id}.${name}`,
      dataType: "String",
      minimumSamplingInterval: 0,
      ...readOnly,
    });
    variable.setValueFromSource(new Variant({ dataType: DataType.String, value: "" }));
    this.strings.set(name, variable);
  }

  private setDeviceString(name: DeviceString, value: string): void {
    if (this.deviceText.get(name) === value) return;
    this.deviceText.set(name, value);
    this.writeDeviceString(name);
  }

  /** Writes a device string with the status codes of a measurement (docs/opcua.md). */
  private writeDeviceString(name: DeviceString): void {
    const variable = this.strings.get(name);
    if (variable === undefined) return;
    const text = this.deviceText.get(name);
    const [value, status] =
      text === undefined
        ? [new Variant({ dataType: DataType.Null }), measurementStatus.noValueYet]
        : [
            new Variant({ dataType: DataType.String, value: text }),
            this.statusOf(StatusCodes.Good),
          ];
    const current = variable.readValue();
    if (current.statusCode === status && current.value.value === value.value) return;
    variable.setValueFromSource(value, status);
  }

  private setString(name: string, value: string): void {
    const variable = this.strings.get(name);
    if (variable === undefined) return;
    const current = variable.readValue().value.value as unknown;
    if (current === value) return;
    variable.setValueFromSource(new Variant({ dataType: DataType.String, value }));
  }
}

function statusOf(measurement: Measurement): StatusCode {
  if (measurement.absentReason === "absent") return measurementStatus.absent;
  if (measurement.absentReason === "invalid") return measurementStatus.invalid;
  return StatusCodes.Good;
}

/** OPC UA severity, 1 to 1000: a device's own alarms rank above the agent's technical ones. */
function severityOf(source: "device" | "technical", active: boolean): number {
  if (!active) return 100;
  return source === "device" ? 800 : 700;
}

function euInformationOf(ucum: string) {
  const unit = unitOfUcum(ucum);
  if (unit?.commonCode === null || unit === undefined) {
    // Part 8: unitId -1 when no UNECE code is known; the symbol or UCUM code still names the unit.
    const eu = makeEUInformation("", unit?.symbol ?? ucum, unit?.description ?? `UCUM ${ucum}`);
    eu.unitId = -1;
    return eu;
  }
  return makeEUInformation(unit.commonCode, unit.symbol, unit.description);
}
