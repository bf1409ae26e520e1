/**
 * The audit trail's file on the gateway: JSON lines in <dataDir>/audit.jsonl, each written and
 * fsynced before the call returns. Past maxFileBytes the file is renamed to audit.jsonl.1 (the
 * older ones move up by one) and only keepFiles rotated files are kept, so the trail is bounded
 * at about (keepFiles + 1) * maxFileBytes.
 */
import { closeSync, fstatSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export const auditFileName = "audit.jsonl";

export interface AuditFileOptions {
  dir: string;
  maxFileBytes: number;
  keepFiles: number;
}

export class AuditFile {
  readonly path: string;
  private fd: number | undefined;
  private bytes = 0;

  constructor(private readonly options: AuditFileOptions) {
    this.path = join(options.dir, auditFileName);
  }

  /**
   * Appends one line and, unless `sync` is false, fsyncs it. Throws when the file cannot be
   * written. Lines appended with `sync` false are durable after the next sync().
   */
  append(line: string, sync = true): void {
    const data = Buffer.from(`${line}\n`);
    let fd = this.open();
    if (this.bytes > 0 && this.bytes + data.length > this.options.maxFileBytes) {
      this.rotate();
      fd = this.open();
    }
    writeSync(fd, data);
    if (sync) fsyncSync(fd);
    this.bytes += data.length;
  }

  sync(): void {
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, "a", 0o640);
      this.bytes = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  private rotate(): void {
    this.sync();
    this.close();
    const rotated = (index: number) => `${this.path}.${index}`;
    rmSync(rotated(this.options.keepFiles), { force: true });
    for (let index = this.options.keepFiles - 1; index >= 1; index--) {
      try {
        renameSync(rotated(index), rotated(index + 1));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    renameSync(this.path, rotated(1));
  }
}
