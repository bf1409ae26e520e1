/**
 * Starts a real mosquitto 2 broker on a loopback port for tests, with mutually authenticated TLS.
 *
 * Privileges: a mosquitto started as root switches to the user `mosquitto` before it opens its log
 * and its key file, so it cannot read a key of mode 0600 owned by root. When the tests run as root,
 * this helper copies the server key into the broker's own folder, gives the copy (mode 0600) and
 * the folder (mode 0700) to the user `mosquitto`, and spawns the broker as that user. So the broker
 * never runs as root, and no key file is readable by other users. The original key keeps its mode.
 */
import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, readFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { watchChild, type WatchedChild } from "../../src/simulate/child-process.js";
import { freeLoopbackPort } from "./ports.js";

/** The PKI files the broker needs; a `DevPki` from src/pki/dev-ca.ts fits. */
export interface BrokerPki {
  ca: { cert: string };
  server: { cert: string; key: string };
}

export interface MosquittoOptions {
  pki: BrokerPki;
  /**
   * Folder for the config, the log, the persistence file and the broker's copies of the PKI files.
   * It is created if missing. When the tests run as root, every folder above it must be searchable
   * by the user `mosquitto`, which holds for a fresh `tempDir(t)`.
   */
  dir: string;
  /** Reject clients that present no certificate signed by the CA. Default: true. */
  requireCertificate?: boolean;
  /** Keep sessions and queued messages across `restart()`. Default: false. */
  persistence?: boolean;
  /** Maximum wait in ms for the port to accept TCP after each start. Default: 10000. */
  startTimeoutMs?: number;
  /**
   * Runs the broker inside this network namespace (`ip netns exec`, needs root), listening on
   * `address`:`port` there. The broker is then ready once its log reports that it runs, because the test
   * process cannot probe a port in another namespace.
   */
  netns?: { name: string; address: string; port: number };
  /** Further mosquitto.conf lines, such as `max_queued_messages 0` for a benchmark. */
  extraSettings?: string[];
}

export interface Mosquitto {
  port: number;
  /** `mqtts://localhost:<port>`; the server certificate is valid for localhost. */
  url: string;
  logFile: string;
  /** Stops the broker and waits for its exit. Calling it again does nothing. */
  stop(): Promise<void>;
  /** Stops the broker and starts it again on the same port, with a fresh copy of the PKI files. */
  restart(): Promise<void>;
}

interface BrokerUser {
  uid: number;
  gid: number;
}

const maxPortAttempts = 5;
const defaultStartTimeoutMs = 10_000;
const probeIntervalMs = 50;
const logTailLines = 20;

/** Starts mosquitto and resolves once its port accepts TCP. Picks a new port when one is taken. */
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto> {
  const dir = path.resolve(options.dir);
  const user = brokerUser();
  const logFile = path.join(dir, "mosquitto.log");
  const timeoutMs = options.startTimeoutMs ?? defaultStartTimeoutMs;

  let port = 0;
  let running: WatchedChild | undefined;
  for (let attempt = 1; running === undefined; attempt++) {
    port = options.netns?.port ?? (await freeLoopbackPort());
    await prepareDir(dir, port, options, user);
    try {
      running = await launch(dir, port, user, timeoutMs, options.netns?.name);
    } catch (error) {
      // Another process can take the port between our probe and mosquitto's bind.
      const clash = error instanceof Error && error.message.includes("Address already in use");
      if (!clash || attempt === maxPortAttempts) throw error;
    }
  }

  let current: WatchedChild | undefined = running;
  const stop = async () => {
    const stopping = current;
    current = undefined;
    if (stopping !== undefined) await stopping.stop();
  };
  const restart = async () => {
    await stop();
    await prepareDir(dir, port, options, user);
    current = await launch(dir, port, user, timeoutMs, options.netns?.name);
  };
  const host = options.netns?.address ?? "localhost";
  return { port, url: `mqtts://${host}:${port}`, logFile, stop, restart };
}

function configText(dir: string, port: number, options: MosquittoOptions): string {
  const requireCertificate = options.requireCertificate ?? true;
  const lines = [
    "per_listener_settings true",
    `persistence ${options.persistence === true ? "true" : "false"}`,
    `persistence_location ${dir}${path.sep}`,
    `log_dest file ${path.join(dir, "mosquitto.log")}`,
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "connection_messages true",
    `listener ${port} ${options.netns?.address ?? "127.0.0.1"}`,
    "protocol mqtt",
    `cafile ${path.join(dir, "ca.crt")}`,
    `certfile ${path.join(dir, "server.crt")}`,
    `keyfile ${path.join(dir, "server.key")}`,
    // mosquitto 2 treats this as the minimum version, so clients may still negotiate TLS 1.3.
    "tls_version tlsv1.2",
    `require_certificate ${requireCertificate ? "true" : "false"}`,
    // The client certificate's CN becomes the MQTT username, as ACLs on a real broker expect.
    ...(requireCertificate ? ["use_identity_as_username true"] : []),
    // This admits clients without a username and password. TLS still checks their certificates.
    "allow_anonymous true",
    ...(options.extraSettings ?? []),
  ];
  return lines.join("\n") + "\n";
}

async function prepareDir(
  dir: string,
  port: number,
  options: MosquittoOptions,
  user: BrokerUser | undefined,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string, number]> = [
    [options.pki.ca.cert, "ca.crt", 0o644],
    [options.pki.server.cert, "server.crt", 0o644],
    [options.pki.server.key, "server.key", 0o600],
  ];
  for (const [source, name, mode] of files) {
    const target = path.join(dir, name);
    await copyFile(source, target);
    await chmod(target, mode);
  }
  const configFile = path.join(dir, "mosquitto.conf");
  await writeFile(configFile, configText(dir, port, options), { mode: 0o644 });
  if (user === undefined) return;

  await assertReachable(dir, user);
  await chmod(dir, 0o700);
  await chown(dir, user.uid, user.gid);
  for (const name of ["ca.crt", "server.crt", "server.key", "mosquitto.conf"]) {
    await chown(path.join(dir, name), user.uid, user.gid);
  }
}

async function launch(
  dir: string,
  port: number,
  user: BrokerUser | undefined,
  timeoutMs: number,
  netns?: string,
): Promise<WatchedChild> {
  const logFile = path.join(dir, "mosquitto.log");
  // The log survives restarts, so an error quotes only the lines this start wrote.
  const logOffset = await fileSize(logFile);
  const command = [mosquittoPath(), "-c", path.join(dir, "mosquitto.conf")];
  // In a namespace, `ip` runs as root and mosquitto drops to its user `mosquitto` itself.
  const child =
    netns === undefined
      ? spawn(command[0] ?? "", command.slice(1), {
          stdio: ["ignore", "pipe", "pipe"],
          ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
        })
      : spawn("ip", ["netns", "exec", netns, ...command], { stdio: ["ignore", "pipe", "pipe"] });
  const running = watchChild(child);

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exitStatus = running.exitStatus();
    if (exitStatus !== undefined) {
      await running.stop();
      throw await startError(
        dir,
        logOffset,
        `exited during start (${exitStatus})`,
        running.output(),
      );
    }
    // Another broker of a parallel test may have taken the port after it was chosen, so the
    // port accepting TCP is not enough: this broker's log must report that it is running.
    const accepts = netns !== undefined || (await acceptsTcp(port));
    if (accepts && (await logSaysRunning(logFile, logOffset))) return running;
    if (Date.now() >= deadline) {
      await running.stop();
      const reason = `timed out: no TCP accept on port ${port} within ${timeoutMs} ms`;
      throw await startError(dir, logOffset, reason, running.output());
    }
    await delay(probeIntervalMs);
  }
}

async function logSaysRunning(logFile: string, offset: number): Promise<boolean> {
  try {
    const text = await readFile(logFile, "utf8");
    return / mosquitto version [\d.]+ running/.test(text.slice(offset));
  } catch {
    return false;
  }
}

async function startError(
  dir: string,
  logOffset: number,
  reason: string,
  output: string,
): Promise<Error> {
  const logTail = await readLogTail(path.join(dir, "mosquitto.log"), logOffset);
  return new Error(
    `mosquitto ${reason}; config ${path.join(dir, "mosquitto.conf")}\n` +
      `--- log tail ---\n${logTail || "(empty)"}\n--- stdout and stderr ---\n${output || "(empty)"}`,
  );
}

async function readLogTail(logFile: string, offset: number): Promise<string> {
  try {
    const text = (await readFile(logFile)).subarray(offset).toString("utf8");
    return text.trimEnd().split("\n").slice(-logTailLines).join("\n");
  } catch (error) {
    if (isNotFound(error)) return "";
    return `(could not read ${logFile}: ${error instanceof Error ? error.message : String(error)})`;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Returns a port that was free on 127.0.0.1 a moment ago: the kernel picks it for a bind to 0. */
async function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1_000);
    const finish = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.once("timeout", () => finish(false));
  });
}

/** Returns the user to run the broker as when the tests run as root, else undefined. */
function brokerUser(): BrokerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === "mosquitto");
  const uid = Number(entry?.[2]);
  const gid = Number(entry?.[3]);
  if (entry === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      "user mosquitto not found in /etc/passwd; tests that run as root start the broker as " +
        "that user. Install the Debian package mosquitto, which creates it",
    );
  }
  return { uid, gid };
}

/** Throws unless every folder above `dir` lets `user` search it, so the broker can reach `dir`. */
async function assertReachable(dir: string, user: BrokerUser): Promise<void> {
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    const info = await stat(parent);
    let searchBit = 0o001;
    if (info.uid === user.uid) searchBit = 0o100;
    else if (info.gid === user.gid) searchBit = 0o010;
    if ((info.mode & searchBit) === 0) {
      throw new Error(
        `the broker, running as user mosquitto, cannot reach ${dir}: ${parent} has mode ` +
          `${(info.mode & 0o777).toString(8)} and uid ${info.uid}. Pass a fresh tempDir(t) as dir`,
      );
    }
    if (parent === path.dirname(parent)) return;
  }
}

function mosquittoPath(): string {
  // Debian installs mosquitto in /usr/sbin, which is often missing from a non-root PATH.
  const folders = [
    ...(process.env["PATH"] ?? "").split(path.delimiter),
    "/usr/sbin",
    "/usr/local/sbin",
  ];
  for (const folder of folders) {
    if (folder === "") continue;
    const candidate = path.join(folder, "mosquitto");
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this folder; try the next one.
    }
  }
  throw new Error("mosquitto not found in PATH, /usr/sbin or /usr/local/sbin; install mosquitto 2");
}
