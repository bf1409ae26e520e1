import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSerialConnector } from "../../src/link/serial.js";
import { serialSettingsSchema } from "../../src/profiles/common.js";
import { tempDir } from "../helpers/tmp.js";

const settings = serialSettingsSchema.parse({ baudRate: 9600 });

test("serial open of a non-port names the path and the fix", async (t) => {
  const file = join(tempDir(t), "capture.bin");
  writeFileSync(file, "");
  const cases = [
    [file, /capture\.bin is a regular file, not a serial port; set link\.path/],
    ["/dev/null", /\/dev\/null is a character device of class mem, not a serial port/],
  ] as const;
  for (const [path, pattern] of cases) {
    const error = await t.throwsAsync(createSerialConnector(path, settings).connect());
    t.regex(error?.message ?? "", /^LINK_OPEN_FAILED: /, path);
    t.regex(error?.message ?? "", pattern, path);
    t.notRegex(error?.message ?? "", /custom baud rate/, path);
  }
});

test("serial open of a missing path says it does not exist", async (t) => {
  const path = join(tempDir(t), "ttyUSB9");
  const error = await t.throwsAsync(createSerialConnector(path, settings).connect());
  t.regex(error?.message ?? "", /ttyUSB9 does not exist; plug in the adapter/);
});
