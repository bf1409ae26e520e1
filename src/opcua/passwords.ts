/**
 * The optional OPC UA user name file: one `name:scrypt:N:r:p:salt:hash` line per user, with the
 * salt and the scrypt hash in base64. Only hashes are stored, and a password is compared in
 * constant time. node:crypto only, so `check` and `opcua passwd` do not load node-opcua.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { GatewayError } from "../errors.js";

/** scrypt cost parameters for new hashes: N = 2^15, r = 8, p = 1 use 32 MiB (128 N r bytes). */
const cost = { N: 32_768, r: 8, p: 1 };
const hashBytes = 32;
const saltBytes = 16;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const minPasswordLength = 12;

interface Entry {
  name: string;
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** Returns the problems of a user name file, one message per bad line, or [] when it is valid. */
export function usersFileProblems(file: string): string[] {
  try {
    return parse(readFileSync(file, "utf8"), file).problems;
  } catch (error) {
    return [
      `cannot read ${file}: ${(error as Error).message}; create it with iomt-gateway opcua passwd`,
    ];
  }
}

/**
 * Checks a user name and password against the file. The file is read on every login, so a user
 * added with `opcua passwd` can log in without a restart.
 */
export async function verifyPassword(
  file: string,
  name: string,
  password: string,
): Promise<boolean> {
  let entries: Entry[];
  try {
    entries = parse(readFileSync(file, "utf8"), file).entries;
  } catch {
    return false;
  }
  const entry = entries.find((candidate) => candidate.name === name);
  // An unknown name costs a scrypt at the default cost too, so timing does not reveal names.
  const target = entry ?? { ...cost, salt: Buffer.alloc(saltBytes), hash: Buffer.alloc(hashBytes) };
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      password,
      target.salt,
      target.hash.length,
      { N: target.N, r: target.r, p: target.p, maxmem: 128 * target.N * target.r * 2 },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
  return entry !== undefined && timingSafeEqual(derived, entry.hash);
}

/** Adds a user or replaces their password, writing the file with mode 0600. */
export function setPassword(file: string, name: string, password: string): void {
  if (!namePattern.test(name)) {
    throw new GatewayError(
      "CLI_USAGE",
      `user name "${name}" must be 1-64 letters, digits, ".", "_", "@" or "-"`,
    );
  }
  if (password.length < minPasswordLength) {
    throw new GatewayError(
      "CLI_USAGE",
      `the password must have at least ${minPasswordLength} characters`,
    );
  }

  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const { problems } = parse(text, file);
  if (problems.length > 0) throw new GatewayError("CONFIG_INVALID", problems.join("; "));

  const salt = randomBytes(saltBytes);
  const hash = scryptSync(password, salt, hashBytes, {
    ...cost,
    maxmem: 128 * cost.N * cost.r * 2,
  });
  const line = [
    name,
    "scrypt",
    cost.N,
    cost.r,
    cost.p,
    salt.toString("base64"),
    hash.toString("base64"),
  ].join(":");

  const kept = text.split("\n").filter((row) => row.trim() !== "" && !row.startsWith(`${name}:`));
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(temporary, `${[...kept, line].join("\n")}\n`, { mode: 0o600, flag: "wx" });
  renameSync(temporary, file);
}

function parse(text: string, file: string): { entries: Entry[]; problems: string[] } {
  const entries: Entry[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((row, index) => {
    const line = row.trim();
    if (line === "" || line.startsWith("#")) return;
    const [name = "", kind, N, r, p, salt, hash, ...rest] = line.split(":");
    const numbers = [N, r, p].map(Number);
    if (
      !namePattern.test(name) ||
      kind !== "scrypt" ||
      rest.length > 0 ||
      salt === undefined ||
      hash === undefined ||
      !numbers.every((n) => Number.isInteger(n) && n > 0)
    ) {
      problems.push(
        `${file} line ${index + 1} is not name:scrypt:N:r:p:salt:hash; write it with iomt-gateway opcua passwd`,
      );
      return;
    }
    const [costN = 0, costR = 0, costP = 0] = numbers;
    // A power of two up to 2^20 (1 GiB with r = 8): scrypt needs one, and it bounds the memory.
    if ((costN & (costN - 1)) !== 0 || costN > 2 ** 20 || costR > 16 || costP > 4) {
      problems.push(
        `${file} line ${index + 1} has scrypt costs out of range; write it again with iomt-gateway opcua passwd`,
      );
      return;
    }
    entries.push({
      name,
      N: costN,
      r: costR,
      p: costP,
      salt: Buffer.from(salt, "base64"),
      hash: Buffer.from(hash, "base64"),
    });
  });
  return { entries, problems };
}
