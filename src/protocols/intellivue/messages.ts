/**
 * IntelliVue Data Export messages: the codes, and encoders for every message the host or the
 * monitor sends. The session and the simulator both build their frames here, so the two sides
 * cannot drift apart. All fields are big-endian. Layouts follow the Philips "Data Export
 * Interface Programming Guide" as public clients read it (mdpnp devices/philips, VSCaptureMP,
 * Koshsky/Intellivue-api). A layout marked [I] is an inference to check on a monitor.
 */
import { Reader } from "./reader.js";

/** First byte of the user data: the session-layer SPDU type, or 0xE1 for a data export PDU. */
export const Spdu = {
  /** CN_SPDU: association request. */
  associationRequest: 0x0d,
  /** AC_SPDU: association accepted. */
  associationAccepted: 0x0e,
  /** RF_SPDU: association refused. */
  associationRefused: 0x0c,
  /** FN_SPDU: release request. */
  releaseRequest: 0x09,
  /** DN_SPDU: release response. */
  releaseResponse: 0x0a,
  /** AB_SPDU: abort. */
  abort: 0x19,
} as const;

/** Session id of data export PDUs (SPpdu), and the presentation context they use. */
export const DATA_EXPORT_SESSION_ID = 0xe100;
export const PRESENTATION_CONTEXT_ID = 2;

/** Remote operation PDU types. */
export const RoType = { invoke: 1, result: 2, error: 3, linkedResult: 5 } as const;

/** Remote operation command types. */
export const CommandType = { confirmedEventReport: 1, confirmedAction: 7 } as const;

export const Action = { pollMdibData: 0x0c16, pollMdibDataExt: 0xf13b } as const;

/** NOM_NOTI_MDS_CREAT: the event report the monitor sends after accepting an association. */
export const MDS_CREATE_EVENT = 0x0d06;

/** Object classes (NOM_MOC_*) the host polls, in partition NOM_PART_OBJ. */
export const ObjectClass = { numerics: 0x06, waves: 0x09, mds: 0x21, alerts: 0x36 } as const;
export const NOM_PART_OBJ = 1;

export const Attribute = {
  numericObserved: 0x0950,
  numericCompound: 0x094b,
  sampleArrayObserved: 0x096e,
  sampleArrayCompound: 0x0967,
  /** NOM_ATTR_TIME_PD_POLL: the period of an extended poll, RelativeTime. */
  pollPeriod: 0xf13e,
  /** Patient and technical alarm lists of the alarm monitor object. */
  patientAlarmList: 0x0902,
  technicalAlarmList: 0x0904,
  pollProfileSupport: 0x0001,
  pollProfileExtension: 0xf001,
} as const;

/** Linked-result states: the first, a middle and the last part of a long reply. */
export const LinkedState = { first: 1, middle: 2, last: 3 } as const;

/** RelativeTime counts 1/8 ms. */
export const RELATIVE_TIME_PER_MS = 8;

/** Converts elapsed ms to a RelativeTime, which wraps at 32 bits. */
export function relativeTimeOf(elapsedMs: number): number {
  return (elapsedMs * RELATIVE_TIME_PER_MS) >>> 0;
}

/** Counts 1 to 65535 and around again, for invoke ids and poll numbers. */
export class WrappingCounter {
  private value = 1;

  next(): number {
    const value = this.value;
    this.value = (this.value % 0xffff) + 1;
    return value;
  }
}

export interface AttributeValue {
  id: number;
  value: Uint8Array;
}

export interface ObservationPoll {
  handle: number;
  attributes: AttributeValue[];
}

/** Builds a byte sequence of big-endian fields. */
export class Fields {
  private readonly parts: Buffer[] = [];

  u8(...values: number[]): this {
    this.parts.push(Buffer.from(values.map((value) => value & 0xff)));
    return this;
  }

  u16(...values: number[]): this {
    for (const value of values) {
      const part = Buffer.alloc(2);
      part.writeUInt16BE(value & 0xffff);
      this.parts.push(part);
    }
    return this;
  }

  u32(...values: number[]): this {
    for (const value of values) {
      const part = Buffer.alloc(4);
      part.writeUInt32BE(value >>> 0);
      this.parts.push(part);
    }
    return this;
  }

  bytes(...values: Uint8Array[]): this {
    for (const value of values) this.parts.push(Buffer.from(value));
    return this;
  }

  /** Appends a u16 length, then `value`. */
  counted(value: Uint8Array): this {
    return this.u16(value.length).bytes(value);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const hexBytes = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

/** Encodes a session-layer length indicator: one byte below 255, else 0xFF and a u16. */
export function lengthIndicator(length: number): Buffer {
  return length < 0xff ? Buffer.from([length]) : new Fields().u8(0xff).u16(length).build();
}

/** Encodes an ASN.1 BER length: short form below 128, else 0x81 or 0x82 and the length. */
function berLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  return new Fields().u8(0x82).u16(length).build();
}

/**
 * [I] Session parameters and the ISO presentation and ACSE layers of the association request,
 * as public clients send them. The monitor's Programming Guide fixes these bytes, and
 * nothing here parses them. Only the MDSE user information after them carries our settings.
 */
const AARQ_SESSION_DATA = hexBytes("05 08 13 01 00 16 01 02 80 00 14 02 00 02");
const AARQ_PRESENTATION = hexBytes(`
  31 80 A0 80 80 01 01 00 00 A2 80 A0 03 00 00 01 A4 80 30 80 02 01 01 06 04 52 01 00 01 30 80
  06 02 51 01 00 00 00 00 30 80 02 01 02 06 0C 2A 86 48 CE 14 02 01 00 00 00 01 01 30 80 06 0C
  2A 86 48 CE 14 02 01 00 00 00 02 01 00 00 00 00 00 00 61 80 30 80 02 01 01 A0 80 60 80 A1 80
  06 0C 2A 86 48 CE 14 02 01 00 00 00 03 01 00 00 BE 80 28 80 06 0C 2A 86 48 CE 14 02 01 00 00
  00 01 01 02 01 02 81`);
/** Closes the indefinite-length BER constructs the presentation part opened. */
const PRESENTATION_TRAILER = Buffer.alloc(16);

const MDDL_VERSION_1 = 0x80000000;
const NOMENCLATURE_VERSION = 0x40000000;
const SYSTEM_TYPE_CLIENT = 0x80000000;
const SYSTEM_TYPE_SERVER = 0x00800000;
const STARTUP_COLD = 0x80000000;
const POLL_PROFILE_REVISION_0 = 0x80000000;
/** PollProfileSupport options: dynamic create and delete of objects. */
const POLL_PROFILE_OPTIONS = 0x60000000;
/** PollProfileExt options the reference clients send: extended poll, wave and numeric support. */
const POLL_PROFILE_EXT_OPTIONS = 0x8c000000;

export interface PollProfile {
  /** Shortest poll period the host accepts, in ms. */
  minPollPeriodMs: number;
  maxMtuRx: number;
  maxMtuTx: number;
  /** Maximum transmit bandwidth in bytes per second; 0xFFFFFFFF means no limit. */
  maxBandwidthTx: number;
}

/** Encodes MDSEUserInfoStd with one PollProfileSupport that carries a PollProfileExt. */
function userInfo(profile: PollProfile, systemType: number): Buffer {
  const extension = new Fields().u32(POLL_PROFILE_EXT_OPTIONS).u16(0, 0).build();
  const optionalPackages = attributeList([
    { id: Attribute.pollProfileExtension, value: extension },
  ]);
  const support = new Fields()
    .u32(POLL_PROFILE_REVISION_0, profile.minPollPeriodMs * RELATIVE_TIME_PER_MS)
    .u32(profile.maxMtuRx, profile.maxMtuTx, profile.maxBandwidthTx, POLL_PROFILE_OPTIONS)
    .bytes(optionalPackages)
    .build();
  return new Fields()
    .u32(MDDL_VERSION_1, NOMENCLATURE_VERSION, 0, systemType, STARTUP_COLD)
    .bytes(attributeList([]))
    .bytes(attributeList([{ id: Attribute.pollProfileSupport, value: support }]))
    .build();
}

/** Wraps session data and a presentation part in an SPDU with its length indicators. */
function sessionPdu(spdu: number, presentation: Buffer): Buffer {
  const presentationPart = Buffer.concat([
    Buffer.from([0xc1]),
    lengthIndicator(presentation.length),
    presentation,
  ]);
  const body = Buffer.concat([AARQ_SESSION_DATA, presentationPart]);
  return Buffer.concat([Buffer.from([spdu]), lengthIndicator(body.length), body]);
}

/** Encodes the host's association request. */
export function associationRequest(profile: PollProfile): Buffer {
  const info = userInfo(profile, SYSTEM_TYPE_CLIENT);
  return sessionPdu(
    Spdu.associationRequest,
    Buffer.concat([AARQ_PRESENTATION, berLength(info.length), info, PRESENTATION_TRAILER]),
  );
}

/**
 * Encodes the monitor's association response. [I] It carries the monitor's MDSE user
 * information but no ACSE part, which a real monitor sends and the gateway never reads.
 */
export function associationResponse(profile: PollProfile): Buffer {
  const info = userInfo(profile, SYSTEM_TYPE_SERVER);
  return sessionPdu(
    Spdu.associationAccepted,
    Buffer.concat([berLength(info.length), info, PRESENTATION_TRAILER]),
  );
}

/** [I] Encodes a refused association: the SPDU type and a zero reason byte. */
export function associationRefusal(): Buffer {
  return Buffer.from([Spdu.associationRefused, 0x01, 0x00]);
}

/** Release request (RLRQ) and response (RLRE). [I] The guide's bytes after `09 18 C1 16 61 80`. */
export const RELEASE_REQUEST = hexBytes(
  "09 18 C1 16 61 80 30 80 02 01 01 A0 80 62 80 80 01 00 00 00 00 00 00 00 00 00",
);
export const RELEASE_RESPONSE = hexBytes(
  "0A 18 C1 16 61 80 30 80 02 01 01 A0 80 63 80 80 01 00 00 00 00 00 00 00 00 00",
);
/** Abort (ABRT). [I] The bytes after `19 2E` as public clients send them. */
export const ABORT = hexBytes(`
  19 2E 11 01 03 C1 29 A0 80 A0 80 30 80 02 01 01 06 02 51 01 00 00 00 00 61 80 30 80 02 01 01
  A0 80 64 80 80 01 01 00 00 00 00 00 00 00 00 00 00`);

/** Encodes an attribute list: count, length, then id, length and value of each attribute. */
export function attributeList(attributes: readonly AttributeValue[]): Buffer {
  const body = new Fields();
  for (const attribute of attributes) body.u16(attribute.id).counted(attribute.value);
  const bytes = body.build();
  return new Fields().u16(attributes.length, bytes.length).bytes(bytes).build();
}

/** Prefixes a remote operation with the SPpdu and the ROapdu header. */
function dataExport(roType: number, operation: Buffer): Buffer {
  return new Fields()
    .u16(DATA_EXPORT_SESSION_ID, PRESENTATION_CONTEXT_ID, roType)
    .counted(operation)
    .build();
}

/** Managed object id: class, context id and handle, here the one MDS every monitor has. */
const MDS_OBJECT = new Fields().u16(ObjectClass.mds, 0, 0).build();

export interface PollRequest {
  invokeId: number;
  pollNumber: number;
  objectClass: number;
  /** Extended polls stream replies for periodMs; a single poll gets one reply. */
  extended: boolean;
  periodMs?: number;
}

/** Encodes a single (0x0C16) or extended (0xF13B) Poll Data Request. */
export function pollRequest(request: PollRequest): Buffer {
  const attributes: AttributeValue[] = [];
  if (request.extended && request.periodMs !== undefined) {
    const period = new Fields().u32(request.periodMs * RELATIVE_TIME_PER_MS).build();
    attributes.push({ id: Attribute.pollPeriod, value: period });
  }
  const poll = new Fields()
    .u16(request.pollNumber, NOM_PART_OBJ, request.objectClass, 0)
    .bytes(request.extended ? attributeList(attributes) : Buffer.alloc(0))
    .build();
  const action = request.extended ? Action.pollMdibDataExt : Action.pollMdibData;
  const argument = new Fields().bytes(MDS_OBJECT).u32(0).u16(action).counted(poll).build();
  const invoke = new Fields()
    .u16(request.invokeId, CommandType.confirmedAction)
    .counted(argument)
    .build();
  return dataExport(RoType.invoke, invoke);
}

/** Encodes the monitor's MDS Create Event Report. [I] It lists no MDS attributes. */
export function mdsCreateEvent(invokeId: number, relativeTime: number): Buffer {
  const info = new Fields().bytes(MDS_OBJECT).bytes(attributeList([])).build();
  const argument = new Fields()
    .bytes(MDS_OBJECT)
    .u32(relativeTime)
    .u16(MDS_CREATE_EVENT)
    .counted(info)
    .build();
  const invoke = new Fields()
    .u16(invokeId, CommandType.confirmedEventReport)
    .counted(argument)
    .build();
  return dataExport(RoType.invoke, invoke);
}

/** Encodes the host's MDS Create Event Result, which the monitor waits for before polls. */
export function mdsCreateResult(invokeId: number, relativeTime: number): Buffer {
  const result = new Fields().bytes(MDS_OBJECT).u32(relativeTime).u16(MDS_CREATE_EVENT, 0).build();
  const operation = new Fields()
    .u16(invokeId, CommandType.confirmedEventReport)
    .counted(result)
    .build();
  return dataExport(RoType.result, operation);
}

export interface PollReply {
  invokeId: number;
  extended: boolean;
  /** Absent for a RORS; a linked-result state for a RORLS. */
  linkedState?: number;
  linkedCount?: number;
  pollNumber: number;
  sequenceNumber?: number;
  relativeTime: number;
  absoluteTime: Uint8Array;
  objectClass: number;
  contextId?: number;
  observations: ObservationPoll[];
}

/** Encodes a poll reply: a RORS, or a RORLS when linkedState is set. */
export function pollReply(reply: PollReply): Buffer {
  const observations = new Fields();
  for (const observation of reply.observations) {
    observations.u16(observation.handle).bytes(attributeList(observation.attributes));
  }
  const observationBytes = observations.build();

  const singleContext = new Fields()
    .u16(reply.contextId ?? 0, reply.observations.length)
    .counted(observationBytes)
    .build();
  const header = new Fields().u16(reply.pollNumber);
  if (reply.extended) header.u16(reply.sequenceNumber ?? 0);
  const data = header
    .u32(reply.relativeTime)
    .bytes(reply.absoluteTime)
    .u16(NOM_PART_OBJ, reply.objectClass, 0)
    .u16(1)
    .counted(singleContext)
    .build();

  const action = reply.extended ? Action.pollMdibDataExt : Action.pollMdibData;
  const result = new Fields().bytes(MDS_OBJECT).u16(action).counted(data).build();
  const operation = new Fields()
    .u16(reply.invokeId, CommandType.confirmedAction)
    .counted(result)
    .build();
  if (reply.linkedState === undefined) return dataExport(RoType.result, operation);
  const linked = new Fields()
    .u8(reply.linkedState, reply.linkedCount ?? 0)
    .bytes(operation)
    .build();
  return dataExport(RoType.linkedResult, linked);
}

/** Encodes a remote operation error for `invokeId`. */
export function remoteError(invokeId: number, errorValue: number): Buffer {
  return dataExport(RoType.error, new Fields().u16(invokeId, errorValue, 0).build());
}

/** NuObsValue: physio id, MeasurementState, unit code and a FLOAT-Type value, 10 bytes. */
export function numericObservation(
  physioId: number,
  state: number,
  unitCode: number,
  value: number,
): Buffer {
  return new Fields().u16(physioId, state, unitCode).u32(value).build();
}

/** NuObsValueCmp: count, length, then NuObsValue entries, such as NBP sys/dia/mean. */
export function compoundNumericObservation(values: readonly Buffer[]): Buffer {
  return new Fields().u16(values.length).counted(Buffer.concat(values)).build();
}

/** SaObsValue: physio id, MeasurementState and the samples, [I] 16 bits each. */
export function sampleArrayObservation(
  physioId: number,
  state: number,
  samples: readonly number[],
): Buffer {
  const array = new Fields().u16(...samples).build();
  return new Fields().u16(physioId, state).counted(array).build();
}

export interface DeviceAlarm {
  /** Physio id of the measurement in alarm. */
  source: number;
  /** Alarm event code. */
  code: number;
  /** AlertType: 0x0004/0x0002/0x0001 high/medium/low technical, 0x0400/0x0200/0x0100 patient. */
  type: number;
  state: number;
  text: string;
}

/**
 * Encodes a DevAlarmList. [I] Layout from Koshsky/Intellivue-api: source, code, type, state,
 * object id, info id and length, then StrAlMonInfo (instance, text id, priority, flags and a
 * UTF-16 string with its terminator). Not in the reference facts; check on a monitor.
 */
export function deviceAlarmList(alarms: readonly DeviceAlarm[]): Buffer {
  const entries = new Fields();
  for (const alarm of alarms) {
    const text = Buffer.from(`${alarm.text}\0`, "utf16le").swap16();
    const info = new Fields().u16(0).u32(0).u16(0, 0).counted(text).build();
    entries
      .u16(alarm.source, alarm.code, alarm.type, alarm.state)
      .u16(ObjectClass.numerics, 0, 0)
      .u16(STR_AL_MON_INFO)
      .counted(info);
  }
  return new Fields().u16(alarms.length).counted(entries.build()).build();
}

/** [I] Private id of StrAlMonInfo in a DevAlarmEntry; the decoder accepts any id. */
const STR_AL_MON_INFO = 0x0001;

/**
 * Reads a Poll Data Request back from its user data, for the simulator. Throws InvalidPayload
 * when a length runs past the data.
 */
export function parsePollRequest(userData: Buffer): PollRequest {
  const reader = new Reader(userData, "poll request");
  reader.skip(8, "SPpdu and ROapdu header");
  const invokeId = reader.u16("invoke id");
  reader.u16("command type");
  const argument = reader.counted("action argument");
  argument.skip(10, "managed object and scope");
  const action = argument.u16("action type");
  const poll = argument.counted("poll request");

  const pollNumber = poll.u16("poll number");
  poll.u16("partition");
  const objectClass = poll.u16("object class");
  poll.u16("attribute group");

  const extended = action === Action.pollMdibDataExt;
  let periodMs: number | undefined;
  if (extended && poll.remaining > 0) {
    poll.u16("attribute count");
    const attributes = poll.counted("attribute list");
    while (attributes.remaining > 0) {
      const id = attributes.u16("attribute id");
      const value = attributes.counted("attribute value");
      if (id === Attribute.pollPeriod) periodMs = value.u32("poll period") / RELATIVE_TIME_PER_MS;
    }
  }
  return {
    invokeId,
    pollNumber,
    objectClass,
    extended,
    ...(periodMs === undefined ? {} : { periodMs }),
  };
}
