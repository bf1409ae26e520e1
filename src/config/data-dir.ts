/** Checks that the agent could really write its state in dataDir. */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { messageOf } from "../errors.js";

/**
 * Kernel file systems that keep nothing on disk. A recursive mkdirSync of a missing folder under
 * /proc does not return (seen with Node 24.21), so these are rejected before any mkdir.
 */
const kernelFileSystems = ["/proc", "/sys", "/dev"];

/** Returns what is wrong with dataDir, as a message with the fix, or undefined when it is usable. */
export function dataDirProblem(dataDir: string, create: boolean): string | undefined {
  const root = kernelFileSystemOf(dataDir);
  if (root !== undefined) {
    return (
      `${dataDir} is under ${root}, which the kernel provides and which keeps no files on disk; ` +
      "use a folder on persistent storage such as /var/lib/iomt-gateway"
    );
  }
  // The agent creates its outbox database and the database's journal files in dataDir itself,
  // so the check creates and removes a file there too rather than asking access(). Without
  // `create`, a missing folder is tested through the nearest folder that exists.
  const folder = create || existsSync(dataDir) ? dataDir : nearestExisting(dataDir);
  try {
    if (create) mkdirSync(dataDir, { recursive: true });
    const probe = join(folder, `.write-check-${process.pid}-${randomUUID()}.tmp`);
    // "wx" fails on an existing name, so a planted symbolic link is never followed.
    writeFileSync(probe, "", { flag: "wx", mode: 0o600 });
    unlinkSync(probe);
    return undefined;
  } catch (error) {
    return (
      `${dataDir} is not a writable folder (creating a file in ${folder} failed: ` +
      `${messageOf(error)}); create it for the agent's user`
    );
  }
}

/** Returns the kernel file system that `path` is in, also when reached through a symbolic link. */
function kernelFileSystemOf(path: string): string | undefined {
  const absolute = resolve(path);
  const candidates = [absolute, realPathOfNearest(absolute)];
  return kernelFileSystems.find((root) =>
    candidates.some((candidate) => candidate === root || candidate.startsWith(`${root}/`)),
  );
}

/** Resolves the symbolic links of the nearest existing ancestor of `path`, keeping the rest. */
function realPathOfNearest(path: string): string {
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    try {
      return join(realpathSync(existing), ...missing);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return path;
      missing.unshift(basename(existing));
      existing = parent;
    }
  }
}

/** Returns the nearest ancestor of `path` that exists. */
function nearestExisting(path: string): string {
  let current = resolve(path);
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}
