/**
 * The address space under Objects/Devices: one object per configured device, and the event type
 * of device and technical alarms.
 */
import type { AddressSpace, Namespace, UAEventType } from "node-opcua";
import { DeviceNode } from "./device-node.js";
import type { OpcuaServerOptions } from "./handle.js";

/** Adds the Devices folder with one object per device; returns each device's sink by id. */
export function buildAddressSpace(
  addressSpace: AddressSpace,
  devices: OpcuaServerOptions["devices"],
): Map<string, DeviceNode> {
  const namespace = addressSpace.getOwnNamespace();
  const alarmEventType = addDeviceAlarmEventType(namespace);
  const folder = namespace.addFolder(addressSpace.rootFolder.objects, {
    browseName: "Devices",
    nodeId: "s=Devices",
  });
  const nodes = new Map<string, DeviceNode>();
  for (const { device, profile } of devices) {
    const object = namespace.addObject({
      organizedBy: folder,
      browseName: device.id,
      nodeId: `s=${device.id}`,
      description: `${profile.manufacturer} ${profile.model} (${profile.id}@${profile.version})`,
      eventNotifier: 1,
      notifierOf: addressSpace.rootFolder.objects.server,
    });
    nodes.set(device.id, new DeviceNode(namespace, object, device, profile, alarmEventType));
  }
  return nodes;
}

/** Device and technical alarms as events, with the fields of the MQTT alarm payload. */
function addDeviceAlarmEventType(namespace: Namespace): UAEventType {
  const eventType = namespace.addEventType({
    browseName: "DeviceAlarmEventType",
    subtypeOf: "BaseEventType",
  });
  for (const [name, dataType] of [
    ["AlarmCode", "String"],
    ["AlarmState", "String"],
    ["AlarmSource", "String"],
    ["DevicePriority", "Int32"],
  ] as const) {
    namespace.addVariable({
      propertyOf: eventType,
      browseName: name,
      dataType,
      modellingRule: name === "DevicePriority" ? "Optional" : "Mandatory",
    });
  }
  return eventType;
}
