/**
 * IP address arithmetic for validating allowlist entries: the network address of a CIDR block
 * and the IPv4 address inside an IPv4-mapped IPv6 address. Inputs are addresses that
 * node:net's isIP accepts, without a zone id.
 */
import { isIP } from "node:net";

/** Returns the address as a number of 32 (IPv4) or 128 (IPv6) bits. */
function toBits(address: string, family: 4 | 6): bigint {
  if (family === 4) {
    return address.split(".").reduce((bits, part) => (bits << 8n) | BigInt(part), 0n);
  }
  // The WHATWG URL parser writes an IPv6 address in its compressed, hex-only form.
  const compressed = new URL(`http://[${address}]`).hostname.slice(1, -1);
  const [head = "", tail] = compressed.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...zeros, ...tailGroups].reduce(
    (bits, group) => (bits << 16n) | BigInt(`0x${group}`),
    0n,
  );
}

function fromBits(bits: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 0xffn)).join(".");
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) =>
    ((bits >> shift) & 0xffffn).toString(16),
  );
  return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1);
}

/** Returns the network address of `address`/`prefix`: the address with its host bits cleared. */
export function networkAddress(address: string, prefix: number): string {
  const family = isIP(address) === 4 ? 4 : 6;
  const width = family === 4 ? 32n : 128n;
  const hostBits = width - BigInt(prefix);
  const mask = ((1n << width) - 1n) ^ ((1n << hostBits) - 1n);
  return fromBits(toBits(address, family) & mask, family);
}

/** Returns the IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or undefined. */
export function mappedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const bits = toBits(address, 6);
  if (bits >> 32n !== 0xffffn) return undefined;
  return fromBits(bits & 0xffffffffn, 4);
}

/** Returns true when `address` and `other` are the same address, however each is written. */
export function sameAddress(address: string, other: string): boolean {
  const family = isIP(address);
  if (family === 0 || family !== isIP(other)) return false;
  const ipFamily = family === 4 ? 4 : 6;
  return toBits(address, ipFamily) === toBits(other, ipFamily);
}
