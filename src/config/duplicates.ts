/**
 * Checks that no two devices share an id or a link. It reads the file's value before schema
 * validation, so it reports duplicates in the same run as every other problem: zod skips
 * refinements of an object once a setting inside it has the wrong type.
 */
import { formatPath, isRecord, type Locate, type Problem } from "./problems.js";

type Path = (string | number)[];

export function duplicateDeviceProblems(file: string, raw: unknown, locate: Locate): Problem[] {
  const devices = isRecord(raw) && Array.isArray(raw.devices) ? (raw.devices as unknown[]) : [];
  const problems: Problem[] = [];
  const report = (path: Path, message: string) =>
    problems.push({ file, path: formatPath(path), ...locate(path), message });

  const links = new Map<string, number>();
  const ids = new Map<string, number>();
  devices.forEach((device, index) => {
    if (!isRecord(device)) return;
    const link = linkKey(device.link);
    const firstLink = link === undefined ? undefined : links.get(link.key);
    if (link !== undefined && firstLink !== undefined) {
      report(
        ["devices", index, "link"],
        `is the same ${link.kind} link as devices[${firstLink}]; give each device its own link`,
      );
    } else if (link !== undefined) {
      links.set(link.key, index);
    }

    if (typeof device.id !== "string") return;
    const firstId = ids.get(device.id);
    if (firstId !== undefined) {
      report(
        ["devices", index, "id"],
        `must be unique, but devices[${firstId}] has the same id; rename one of them`,
      );
    } else {
      ids.set(device.id, index);
    }
  });
  return problems;
}

/** Returns what identifies a link, or undefined when the link is too malformed to compare. */
function linkKey(link: unknown): { kind: string; key: string } | undefined {
  if (!isRecord(link)) return undefined;
  if (link.kind === "serial" && typeof link.path === "string") {
    return { kind: "serial", key: `serial ${link.path}` };
  }
  if (link.kind === "tcp" && typeof link.host === "string" && typeof link.port === "number") {
    return { kind: "tcp", key: `tcp ${link.host}:${link.port}` };
  }
  return undefined;
}
