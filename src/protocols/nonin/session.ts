/**
 * Session of the Nonin family. The device sends its data format without being asked, so the
 * session only writes when the profile asks for the select-format command, once per link open.
 * The device answers with ACK (0x06) or NAK (0x15); the framer discards that byte as noise, and
 * a device that keeps the old format shows up as frames that do not decode.
 */
import { createListenOnlySession, type Session } from "../types.js";
import { encodeSelectFormat } from "./codec.js";
import type { NoninProfile } from "./schema.js";

export function createNoninSession(profile: NoninProfile): Session {
  const selectFormat = profile.session.selectFormat;
  const listenOnly = createListenOnlySession();
  if (selectFormat === undefined) return listenOnly;
  const format = profile.framing.format;
  return {
    ...listenOnly,
    onOpen: () => [
      { bytes: encodeSelectFormat(format, selectFormat.options), label: `select format ${format}` },
    ],
  };
}
