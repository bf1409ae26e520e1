/**
 * Pure IntelliVue frame decoder: one `C0 … C1` frame as the framer cut it, escapes included,
 * in; device records and session events out. It removes the escapes, checks the FCS and the
 * header, then reads the user data (see messages.ts for the layouts):
 *
 * - session SPDUs (association, release, abort) become session events;
 * - an MDS Create Event Report becomes a command the session must reply to;
 * - poll replies (RORS and linked RORLS) become numerics, wave or alarm records by the polled
 *   object class, plus a response event;
 * - host messages (association and poll requests, MDS Create Event Result) become events too,
 *   so the simulator can reuse this decoder.
 */
import { GatewayError } from "../../errors.js";
import type {
  DecodeResult,
  DeviceClock,
  DeviceRecord,
  RawAlarm,
  RawValue,
  SessionEvent,
} from "../types.js";
import {
  absoluteTimeText,
  decodeFloat,
  ESCAPE,
  ESCAPE_MASK,
  FCS_BYTES,
  FCS_GOOD_RESIDUE,
  fcsUpdate,
  floatText,
  HEADER_BYTES,
  MESSAGE_TYPE,
  PROTOCOL_ID,
} from "./codec.js";
import {
  Action,
  Attribute,
  CommandType,
  DATA_EXPORT_SESSION_ID,
  MDS_CREATE_EVENT,
  ObjectClass,
  RELATIVE_TIME_PER_MS,
  RoType,
  Spdu,
} from "./messages.js";
import { classifyState, type DemoDataPolicy } from "./measurement-state.js";
import { hex16, InvalidPayload, Reader } from "./reader.js";

export interface IntellivueDecoderOptions {
  demoData: DemoDataPolicy;
}

const POLL_REPLY_FLAG = 0x10000;
const LAST_REPLY_FLAG = 0x100;

/** Session event code of a poll reply: the polled object class, with a flag on the last one. */
export function pollReplyCode(objectClass: number, last: boolean): number {
  return POLL_REPLY_FLAG | (last ? LAST_REPLY_FLAG : 0) | (objectClass & 0xff);
}

/** Returns the polled object class of a poll reply's event code, or undefined for another code. */
export function replyObjectClass(code: number): number | undefined {
  return (code & POLL_REPLY_FLAG) === 0 ? undefined : code & 0xff;
}

/** Session event code of a remote operation error for one of our invoke ids. */
export function remoteErrorCode(invokeId: number): number {
  return 0x20000 | invokeId;
}

const MIN_FRAME_BYTES = 2 + HEADER_BYTES + FCS_BYTES;
/** Maximum length of bytes quoted in an error message. */
const MAX_QUOTED_BYTES = 24;

export function createIntellivueDecoder(options: IntellivueDecoderOptions) {
  return (frame: Buffer): DecodeResult => decodeIntellivueFrame(frame, options);
}

export function decodeIntellivueFrame(
  frame: Buffer,
  options: IntellivueDecoderOptions,
): DecodeResult {
  const unescaped = unescapeFrame(frame);
  if (typeof unescaped === "string") return invalid(unescaped);
  if (fcsUpdate(unescaped) !== FCS_GOOD_RESIDUE) {
    const received = unescaped.subarray(-FCS_BYTES);
    return {
      ok: false,
      error: new GatewayError(
        "FRAME_CHECKSUM",
        `IntelliVue frame check of a ${unescaped.length}-byte frame is invalid (received FCS ` +
          `${hex(received)}, low byte first); check the cable and that the port runs 115200 8N1`,
      ),
    };
  }
  const headerError = checkHeader(unescaped);
  if (headerError !== undefined) return invalid(headerError);
  const userData = unescaped.subarray(HEADER_BYTES, unescaped.length - FCS_BYTES);
  try {
    return { ok: true, records: decodeUserData(userData, options) };
  } catch (error) {
    if (error instanceof InvalidPayload) return invalid(error.message);
    throw error;
  }
}

/** Removes BOF, EOF and the escapes; returns a message when the frame is malformed. */
function unescapeFrame(frame: Buffer): Buffer | string {
  if (frame.length < MIN_FRAME_BYTES || frame[0] !== 0xc0 || frame.at(-1) !== 0xc1) {
    return (
      `IntelliVue frame must be C0, a 4-byte header, the user data, a 2-byte FCS and C1 ` +
      `(got ${frame.length} bytes: ${hex(frame)}); a short frame comes from line noise or a ` +
      `wrong baud rate, so check the cable and that the port runs 115200 8N1`
    );
  }
  const out = Buffer.alloc(frame.length);
  let length = 0;
  for (let index = 1; index < frame.length - 1; index++) {
    const byte = frame[index] ?? 0;
    if (byte !== ESCAPE) {
      out[length++] = byte;
      continue;
    }
    index++;
    if (index >= frame.length - 1) {
      return `IntelliVue frame ends with an escape byte 7D before C1 (got ${hex(frame)})`;
    }
    out[length++] = (frame[index] ?? 0) ^ ESCAPE_MASK;
  }
  return length < HEADER_BYTES + FCS_BYTES
    ? `IntelliVue frame has ${length} bytes after unescaping, fewer than header and FCS`
    : out.subarray(0, length);
}

function checkHeader(frame: Buffer): string | undefined {
  const declared = frame.readUInt16BE(2);
  const actual = frame.length - HEADER_BYTES - FCS_BYTES;
  if (frame[0] !== PROTOCOL_ID || frame[1] !== MESSAGE_TYPE) {
    return (
      `IntelliVue frame header must start 11 01 (Data Export, message type 1), got ` +
      `${hex(frame.subarray(0, 2))}; check that the monitor port is set to data export`
    );
  }
  if (declared !== actual) {
    return `IntelliVue frame header declares ${declared} bytes of user data, but ${actual} arrived`;
  }
  return undefined;
}

function decodeUserData(data: Buffer, options: IntellivueDecoderOptions): DeviceRecord[] {
  const first = data[0] ?? -1;
  const session = (event: SessionEvent): DeviceRecord[] => [{ kind: "session", event }];
  switch (first) {
    case Spdu.associationAccepted:
    case Spdu.releaseResponse:
      return session({ type: "response", command: first });
    case Spdu.associationRefused:
      return session({ type: "rejected", command: Spdu.associationRequest });
    case Spdu.associationRequest:
    case Spdu.releaseRequest:
    case Spdu.abort:
      return session({ type: "command", command: first, payload: Buffer.from(data) });
  }
  const reader = new Reader(data, "data export PDU");
  const sessionId = data.length >= 2 ? data.readUInt16BE(0) : -1;
  if (sessionId !== DATA_EXPORT_SESSION_ID) {
    throw new InvalidPayload(
      `IntelliVue user data must start with an SPDU type (0D, 0E, 0C, 09, 0A, 19) or the data ` +
        `export session id E1 00 (got ${hex(data)}); check the monitor's export protocol`,
    );
  }
  reader.u32("SPpdu");
  const roType = reader.u16("ROapdu type");
  const operation = reader.counted("ROapdu", "remote operation");
  return decodeOperation(roType, operation, data, options);
}

function decodeOperation(
  roType: number,
  operation: Reader,
  data: Buffer,
  options: IntellivueDecoderOptions,
): DeviceRecord[] {
  switch (roType) {
    case RoType.invoke:
      return decodeInvoke(operation, data);
    case RoType.result:
      return decodeResult(operation, true, options);
    case RoType.linkedResult: {
      const state = operation.u8("linked-result state");
      operation.u8("linked-result count");
      return decodeResult(operation, state === 3, options);
    }
    case RoType.error: {
      const invokeId = operation.u16("invoke id");
      return [{ kind: "session", event: { type: "rejected", command: remoteErrorCode(invokeId) } }];
    }
    default:
      throw new InvalidPayload(
        `IntelliVue remote operation type ${roType} is not ROIV (1), RORS (2), ROER (3) or ` +
          `RORLS (5); check the frame capture`,
      );
  }
}

function decodeInvoke(operation: Reader, data: Buffer): DeviceRecord[] {
  const invokeId = operation.u16("invoke id");
  const commandType = operation.u16("command type");
  const argument = operation.counted("invoke argument");
  argument.skip(6, "managed object");
  if (commandType === CommandType.confirmedEventReport) {
    argument.u32("event time");
    const eventType = argument.u16("event type");
    if (eventType !== MDS_CREATE_EVENT) return [];
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(invokeId);
    return [{ kind: "session", event: { type: "command", command: MDS_CREATE_EVENT, payload } }];
  }
  if (commandType === CommandType.confirmedAction) {
    argument.u32("scope");
    const action = argument.u16("action type");
    return [{ kind: "session", event: { type: "command", command: action, payload: data } }];
  }
  return [];
}

function decodeResult(
  operation: Reader,
  last: boolean,
  options: IntellivueDecoderOptions,
): DeviceRecord[] {
  operation.u16("invoke id");
  const commandType = operation.u16("command type");
  const result = operation.counted("result");
  result.skip(6, "managed object");
  if (commandType === CommandType.confirmedEventReport) {
    return [{ kind: "session", event: { type: "response", command: MDS_CREATE_EVENT } }];
  }
  if (commandType !== CommandType.confirmedAction) return [];
  const action = result.u16("action type");
  if (action !== Action.pollMdibData && action !== Action.pollMdibDataExt) return [];
  const reply = result.counted("poll reply");
  return decodePollReply(reply, action === Action.pollMdibDataExt, last, options);
}

interface ReplyContext {
  deviceTime?: string;
  /** The reply's RelativeTime, which lets the wave batcher see a reply that never arrived. */
  deviceClock: DeviceClock;
  options: IntellivueDecoderOptions;
}

function decodePollReply(
  reply: Reader,
  extended: boolean,
  last: boolean,
  options: IntellivueDecoderOptions,
): DeviceRecord[] {
  reply.u16("poll number");
  if (extended) reply.u16("sequence number");
  // NOTE: RelativeTime is assumed to advance with each reply's wave samples, as the simulator
  // sends it; not checked on a monitor. Were it to jitter by more than half a reply, the wave
  // batcher would end segments early, and still lose no sample.
  const deviceClock = { ticks: reply.u32("relative time"), ticksPerMs: RELATIVE_TIME_PER_MS };
  const deviceTime = absoluteTimeText(reply.take(8, "absolute time"));
  reply.u16("polled object partition");
  const objectClass = reply.u16("polled object class");
  reply.u16("polled attribute group");
  const context: ReplyContext = {
    options,
    deviceClock,
    ...(deviceTime === undefined ? {} : { deviceTime }),
  };
  reply.u16("context count");
  const attributes = readPollInfoList(reply.counted("poll info list"));
  const records = recordsOf(objectClass, attributes, context);
  records.push({
    kind: "session",
    event: { type: "response", command: pollReplyCode(objectClass, last) },
  });
  return records;
}

interface Ava {
  id: number;
  value: Reader;
}

/** Flattens the context and observation lists to their attributes, in order. */
function readPollInfoList(list: Reader): Ava[] {
  const attributes: Ava[] = [];
  while (list.remaining > 0) {
    list.u16("context id");
    list.u16("observation count");
    const observations = list.counted("observation list");
    while (observations.remaining > 0) {
      observations.u16("object handle");
      observations.u16("attribute count");
      const avas = observations.counted("attribute list");
      while (avas.remaining > 0) {
        const id = avas.u16("attribute id");
        attributes.push({ id, value: avas.attributeValue(id) });
      }
    }
  }
  return attributes;
}

function recordsOf(objectClass: number, attributes: Ava[], context: ReplyContext): DeviceRecord[] {
  switch (objectClass) {
    case ObjectClass.numerics:
      return [numericsRecord(attributes, context)];
    case ObjectClass.waves:
      return waveRecords(attributes, context);
    case ObjectClass.alerts:
      return [alarmsRecord(attributes)];
    default:
      return [];
  }
}

function numericsRecord(attributes: Ava[], context: ReplyContext): DeviceRecord {
  const values: RawValue[] = [];
  for (const attribute of attributes) {
    if (attribute.id === Attribute.numericObserved) {
      values.push(readNumeric(attribute.value, context));
    } else if (attribute.id === Attribute.numericCompound) {
      const count = attribute.value.u16("compound count");
      const entries = attribute.value.counted("compound values");
      for (let index = 0; index < count; index++) values.push(readNumeric(entries, context));
    }
  }
  // NOTE: a long reply may come as several linked frames, so no single frame is known to list
  // every numeric the monitor has.
  return {
    kind: "numerics",
    values,
    snapshot: false,
    ...(context.deviceTime === undefined ? {} : { deviceTime: context.deviceTime }),
  };
}

/** Reads one NuObsValue; its device code is the physio id and the unit code, such as 4BB8/0220. */
function readNumeric(value: Reader, context: ReplyContext): RawValue {
  const physioId = value.u16("physio id");
  const state = value.u16("measurement state");
  const unitCode = value.u16("unit code");
  const raw = value.u32("value");
  const deviceCode = `${hex16(physioId)}/${hex16(unitCode)}`;
  const stateReason = classifyState(state, context.options.demoData);
  if (stateReason !== undefined) return { deviceCode, text: "", absentReason: stateReason };
  const decoded = decodeFloat(raw);
  if (decoded.kind !== "number") return { deviceCode, text: "", absentReason: "invalid" };
  return { deviceCode, text: floatText(decoded) };
}

function waveRecords(attributes: Ava[], context: ReplyContext): DeviceRecord[] {
  const records: DeviceRecord[] = [];
  const time = {
    deviceClock: context.deviceClock,
    ...(context.deviceTime === undefined ? {} : { deviceTime: context.deviceTime }),
  };
  const push = (value: Reader) => {
    const physioId = value.u16("physio id");
    const state = value.u16("measurement state");
    const array = value.counted("sample array");
    // NOTE: samples are taken as 16-bit unsigned; NOM_ATTR_SA_SPECN gives the real size.
    const samples = new Array<number>(array.remaining >> 1);
    for (let index = 0; index < samples.length; index++) samples[index] = array.u16("sample");
    if (classifyState(state, context.options.demoData) !== undefined) return;
    records.push({ kind: "wave", deviceCode: hex16(physioId), samples, ...time });
  };
  for (const attribute of attributes) {
    if (attribute.id === Attribute.sampleArrayObserved) {
      push(attribute.value);
    } else if (attribute.id === Attribute.sampleArrayCompound) {
      const count = attribute.value.u16("compound count");
      const entries = attribute.value.counted("compound samples");
      for (let index = 0; index < count; index++) push(entries);
    }
  }
  return records;
}

/** AlertType bits, highest priority first, with the priority we publish. */
const alertPriorities: [number, number][] = [
  [0x0400, 3],
  [0x0004, 3],
  [0x0200, 2],
  [0x0002, 2],
  [0x0100, 1],
  [0x0001, 1],
];

function alarmsRecord(attributes: Ava[]): DeviceRecord {
  const alarms: RawAlarm[] = [];
  for (const attribute of attributes) {
    if (
      attribute.id !== Attribute.patientAlarmList &&
      attribute.id !== Attribute.technicalAlarmList
    ) {
      continue;
    }
    const count = attribute.value.u16("alarm count");
    const entries = attribute.value.counted("alarm entries");
    for (let index = 0; index < count; index++) {
      const alarm = readAlarm(entries);
      if (alarm !== undefined) alarms.push(alarm);
    }
  }
  return { kind: "alarms", alarms, snapshot: true };
}

/** Reads one DevAlarmEntry; returns undefined for an entry of type NO_ALERT. */
function readAlarm(entries: Reader): RawAlarm | undefined {
  const source = entries.u16("alarm source");
  const code = entries.u16("alarm code");
  const type = entries.u16("alarm type");
  entries.u16("alarm state");
  entries.skip(6, "alarm object");
  entries.u16("alarm info id");
  const info = entries.counted("alarm info");
  let text = "";
  if (info.remaining >= 12) {
    info.skip(10, "alarm instance, text id, priority and flags");
    text = utf16Text(info.counted("alarm string").rest());
  }
  const priority = alertPriorities.find(([bit]) => (type & bit) !== 0)?.[1];
  if (priority === undefined) return undefined;
  return { deviceCode: `${hex16(source)}/${hex16(code)}`, priority, text };
}

/** Decodes a UTF-16 big-endian string up to its 0x0000 terminator. */
function utf16Text(bytes: Buffer): string {
  const even = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  const text = even.swap16().toString("utf16le");
  const end = text.indexOf("\0");
  return (end < 0 ? text : text.slice(0, end)).trim();
}

function invalid(message: string): DecodeResult {
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}

/** Formats bytes for a message, cut after MAX_QUOTED_BYTES so noise cannot make a huge line. */
function hex(bytes: Uint8Array): string {
  const shown = [...bytes.subarray(0, MAX_QUOTED_BYTES)].map((byte) =>
    byte.toString(16).toUpperCase().padStart(2, "0"),
  );
  const more = bytes.length > MAX_QUOTED_BYTES ? ` … (${bytes.length} bytes)` : "";
  return shown.join(" ") + more;
}
