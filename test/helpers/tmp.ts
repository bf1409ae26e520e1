import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import type { ExecutionContext } from "ava";

/**
 * Creates a new empty folder under os.tmpdir() and removes it, with everything in it, when the
 * test ends. The folder has mode 0700. Ava runs teardowns in reverse order, so create the folder
 * before the processes that use it: they are then stopped before it is removed.
 */
export function tempDir(t: ExecutionContext, prefix = "iomt-gateway-test-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
