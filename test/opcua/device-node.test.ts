/** A device's OPC UA variables in an in-process address space, without a server or network. */
import test from "ava";
import {
  AddressSpace,
  StatusCodes,
  generateAddressSpace,
  nodesets,
  type UAVariable,
} from "node-opcua";
import type { DeviceConfig } from "../../src/config/schema.js";
import type { DeviceStatus } from "../../src/device/supervisor.js";
import { emptyCounters } from "../../src/device/pipeline.js";
import { buildAddressSpace } from "../../src/opcua/address-space.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import type { Profile } from "../../src/profiles/schema.js";

const profile = loadProfiles(builtInProfileDirs()).profiles.get("masimo-radical7-ascii1")
  ?.profile as Profile;
const device: DeviceConfig = {
  id: "bed1",
  profile: profile.id,
  link: { kind: "tcp", host: "127.0.0.1", port: 4001 },
};

/** One address space for the file: loading the standard nodeset takes seconds. */
const shared = createDeviceNode();
test.after.always(async () => (await shared).dispose());

async function createDeviceNode() {
  const addressSpace = AddressSpace.create();
  await generateAddressSpace(addressSpace, [nodesets.standard]);
  addressSpace.registerNamespace("urn:test");
  const node = buildAddressSpace(addressSpace, [{ device, profile }]).get(device.id);
  const variable = (name: string) => addressSpace.findNode(`ns=1;s=bed1.${name}`) as UAVariable;
  return {
    node: node as NonNullable<typeof node>,
    variable,
    dispose: () => addressSpace.dispose(),
  };
}

const status = (state: DeviceStatus["state"]): DeviceStatus => ({
  deviceId: device.id,
  state,
  sinceMs: Date.now(),
  link: "tcp 127.0.0.1:4001",
  profile: `${profile.id}@${profile.version}`,
  lastFrameAgeMs: null,
  counters: emptyCounters(),
  unmappedCodes: {},
});

const spo2 = (value: number | null, absentReason?: "absent" | "invalid") => ({
  measurements: [
    {
      deviceCode: "SPO2",
      mdcCode: 150456,
      mdcRefId: "MDC_PULS_OXIM_SAT_O2",
      value,
      unit: "%",
      ...(absentReason === undefined ? {} : { absentReason }),
    },
  ],
});

test.serial("measurement status follows value and link state", async (t) => {
  const { node, variable } = await shared;
  const read = () => variable("MDC_PULS_OXIM_SAT_O2").readValue();
  t.is(read().statusCode, StatusCodes.BadWaitingForInitialData);

  node.state(status("connected"));
  node.observations(spo2(97), Date.parse("2026-01-01T10:00:00Z"));
  t.is(read().statusCode, StatusCodes.Good);
  t.is(read().value.value, 97);
  t.is(read().sourceTimestamp?.toISOString(), "2026-01-01T10:00:00.000Z");

  node.state(status("stale"));
  t.is(read().statusCode, StatusCodes.UncertainLastUsableValue);
  t.is(read().value.value, 97, "the last value is kept");
  node.state(status("lost"));
  t.is(read().statusCode, StatusCodes.BadNoCommunication);
  node.state(status("connecting"));
  t.is(read().statusCode, StatusCodes.BadNoCommunication, "a reopened link has no new value yet");

  node.state(status("connected"));
  node.observations(spo2(null, "absent"), Date.now());
  t.is(read().statusCode, StatusCodes.BadSensorFailure);
  t.is(read().value.value, null);
  node.observations(spo2(null, "invalid"), Date.now());
  t.is(read().statusCode, StatusCodes.BadDataEncodingInvalid);
  node.observations(spo2(96), Date.now());
  t.is(read().statusCode, StatusCodes.Good);
});

test.serial("device strings follow the link state", async (t) => {
  const { node, variable } = await shared;
  const read = (name: string) => variable(name).readValue();
  node.state(status("connected"));
  for (const name of ["SerialNumber", "Firmware", "DeviceTime"]) {
    t.is(read(name).statusCode, StatusCodes.BadWaitingForInitialData, `${name} not yet received`);
    t.is(read(name).value.value, null);
  }
  node.observations({ ...spo2(97), deviceTime: "01/01/26 10:00:00" }, Date.now());
  t.is(read("DeviceTime").statusCode, StatusCodes.Good);
  t.is(read("DeviceTime").value.value, "01/01/26 10:00:00");
  node.state(status("stale"));
  t.is(read("DeviceTime").statusCode, StatusCodes.UncertainLastUsableValue);
  node.state(status("lost"));
  t.is(read("DeviceTime").statusCode, StatusCodes.BadNoCommunication);
  t.is(read("DeviceTime").value.value, "01/01/26 10:00:00", "the last value is kept");
  t.is(read("SerialNumber").statusCode, StatusCodes.BadWaitingForInitialData);
  t.is(read("Model").statusCode, StatusCodes.Good, "the profile's model stays Good");
  t.is(read("LinkState").statusCode, StatusCodes.Good);
  node.state(status("connected"));
  t.is(read("DeviceTime").statusCode, StatusCodes.Good);
});

test.serial("identity and link state are strings", async (t) => {
  const { node, variable } = await shared;
  t.is(variable("Manufacturer").readValue().value.value, "Masimo");
  node.state(status("connected"));
  node.identity({ serialNumber: "0000012345", firmware: "7.1" });
  t.is(variable("SerialNumber").readValue().statusCode, StatusCodes.Good);
  t.is(variable("SerialNumber").readValue().value.value, "0000012345");
  t.is(variable("Firmware").readValue().value.value, "7.1");
  node.state({ ...status("lost"), reason: "link lost: port vanished" });
  t.is(variable("SerialNumber").readValue().statusCode, StatusCodes.BadNoCommunication);
  t.is(variable("Firmware").readValue().statusCode, StatusCodes.BadNoCommunication);
  t.is(variable("LinkState").readValue().value.value, "lost");
  t.is(variable("LinkStateReason").readValue().value.value, "link lost: port vanished");
});

test.serial("every variable is read-only", async (t) => {
  const { variable } = await shared;
  for (const name of [
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_PULS_OXIM_SAT_O2.MdcCode",
    "LinkState",
    "Model",
  ]) {
    t.is(variable(name).userAccessLevel, 1, `${name} is CurrentRead only`);
  }
});
