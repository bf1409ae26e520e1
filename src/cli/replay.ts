import { once } from "node:events";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { CaptureParser, type CaptureData, type CaptureHeader } from "../capture/file.js";
import { GatewayError, messageOf } from "../errors.js";
import { parseCommandArgs, profileDirsOption } from "./args.js";
import { findProfile } from "./find-profile.js";
import { maxVectorBytes, replayRenderer, type ReplayRenderer } from "./replay-render.js";

const help = `Usage: iomt-gateway replay FILE [--profile ID] [--json | --vector [--name TEXT]]

Runs the device bytes of a capture file (from "iomt-gateway capture") through the same
pipeline as the agent and the profile test vectors, and prints what they decode to: a table
for a person, or with --json one JSON object per line (observation, alarm, wave, error,
then a summary). As in a test vector, every response counts as expected and a line framer does not
skip the first line, so a capture that starts mid-line shows one decode error.
--vector prints the bytes and their result as a test vector to paste into a profile's
testVectors list.

Options:
  --profile ID          Profile to decode with (default: the one the capture names).
  --profiles-dir DIR    Extra folder of profiles, searched first.
  --json                One JSON object per line instead of a table.
  --vector              A YAML test vector instead of a table (at most ${maxVectorBytes} bytes of
                        device input: record a short capture for it).
  --name TEXT           The vector's name (default: the capture file's name).
  -h, --help            Show this help.
`;

export interface ReplayOptions {
  profile?: string;
  "profiles-dir"?: string;
  json?: boolean;
  vector?: boolean;
  name?: string;
}

/** The destinations of a replay: results to `write`, which may wait for the reader, notes to `warn`. */
export interface ReplayOutput {
  write(text: string): void | Promise<void>;
  warn(text: string): void;
}

export async function replayCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      profile: { type: "string" },
      "profiles-dir": { type: "string" },
      json: { type: "boolean" },
      vector: { type: "boolean" },
      name: { type: "string" },
    },
    help,
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) {
    throw new GatewayError("CLI_USAGE", `replay needs exactly one capture FILE\n\n${help}`);
  }
  if (values.json === true && values.vector === true) {
    throw new GatewayError("CLI_USAGE", `give at most one of --json and --vector\n\n${help}`);
  }
  await replayLines(await fileLines(file), file, values, standardOutput);
  return 0;
}

const standardOutput: ReplayOutput = {
  async write(text) {
    if (!process.stdout.write(text)) await once(process.stdout, "drain");
  },
  warn(text) {
    process.stderr.write(`${text}\n`);
  },
};

/** Opens `file` for reading line by line, so a large capture is never held whole. */
async function fileLines(file: string): Promise<AsyncIterable<string>> {
  const stream = createReadStream(file, { encoding: "utf8" });
  try {
    await once(stream, "open");
  } catch (error) {
    throw new GatewayError("CLI_USAGE", `cannot read ${file} (${messageOf(error)})`);
  }
  return createInterface({ input: stream, crlfDelay: Infinity });
}

/**
 * Checks and decodes a capture one line at a time and prints the results as they come. An
 * invalid line stops the decoding, and CAPTURE_INVALID is raised once the rest of the file
 * is checked, after the results of the lines before it.
 */
export async function replayLines(
  lines: Iterable<string> | AsyncIterable<string>,
  file: string,
  options: ReplayOptions,
  output: ReplayOutput,
): Promise<void> {
  const parser = new CaptureParser(file);
  let replay: CaptureReplay | undefined;
  for await (const text of lines) {
    const line = parser.push(text);
    if (line?.type === "header") replay = new CaptureReplay(line, file, options, output);
    else if (line?.type === "data") await replay?.data(line);
    else if (line?.type === "end") replay?.recordedEnd(line);
  }
  for (const warning of parser.finish()) output.warn(`warning: ${warning}`);
  await replay?.finish();
}

/** The decoding of one capture, from its header on. */
class CaptureReplay {
  private readonly renderer: ReplayRenderer;
  private bytesOut = 0;
  private endBytes: { bytesIn: number; bytesOut: number } | undefined;

  constructor(
    header: CaptureHeader,
    private readonly file: string,
    options: ReplayOptions,
    private readonly output: ReplayOutput,
  ) {
    const profile = findProfile(
      options.profile ?? header.profile,
      profileDirsOption(options["profiles-dir"]),
    );
    if (profile.id !== header.profile) {
      output.warn(
        `warning: ${file} was captured for ${header.profile}; decoding it as ${profile.id} ` +
          `(${profile.family}) shows what those bytes mean to that profile, not to the device`,
      );
    } else if (profile.version !== header.profileVersion) {
      output.warn(
        `note: ${file} was captured with ${profile.id}@${header.profileVersion}; ` +
          `decoding with ${profile.version}`,
      );
    }
    this.renderer = replayRenderer(profile, file, options);
  }

  async data(line: CaptureData): Promise<void> {
    if (line.dir === "out") {
      this.bytesOut += line.hex.length / 2;
      return;
    }
    await this.output.write(this.renderer.chunk(Buffer.from(line.hex, "hex"), line.ms));
  }

  recordedEnd(line: { bytesIn: number; bytesOut: number }): void {
    this.endBytes = line;
  }

  async finish(): Promise<void> {
    const text = this.renderer.finish(this.bytesOut);
    if (this.renderer.bytesIn === 0) this.output.warn(`note: no device bytes in ${this.file}`);
    const end = this.endBytes;
    if (
      end !== undefined &&
      (end.bytesIn !== this.renderer.bytesIn || end.bytesOut !== this.bytesOut)
    ) {
      this.output.warn(
        `warning: the end line of ${this.file} counts ${end.bytesIn} bytes in and ` +
          `${end.bytesOut} out, but its data lines hold ${this.renderer.bytesIn} in and ` +
          `${this.bytesOut} out: the file was changed after the capture`,
      );
    }
    await this.output.write(text);
  }
}
