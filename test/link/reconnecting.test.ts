import test from "ava";
import { createLogger } from "../../src/log.js";
import { ReconnectingLink } from "../../src/link/reconnecting.js";
import type { Connector, LinkConnection } from "../../src/link/types.js";

/** Returns a connector whose connections open at once and close when close() is called. */
function fakeConnector() {
  const connections: LinkConnection[] = [];
  const connector: Connector = {
    description: "fake link",
    connect: () => {
      let onClose: (reason: string) => void = () => undefined;
      const connection: LinkConnection = {
        write: () => undefined,
        close: (reason = "closed") => onClose(reason),
        onData: () => undefined,
        onClose: (listener) => {
          onClose = listener;
        },
      };
      connections.push(connection);
      return Promise.resolve(connection);
    },
  };
  return { connector, connections };
}

/**
 * Opens a link, closes it `times` times with `close` once it is open again, and returns the
 * retry delays it logged and the number of connections it made.
 */
async function retryDelays(
  times: number,
  close: (link: ReconnectingLink, connection: LinkConnection) => void,
) {
  const { connector, connections } = fakeConnector();
  const delays: number[] = [];
  const log = createLogger({
    level: "warn",
    format: "json",
    sink: { write: (line) => delays.push((JSON.parse(line) as { retryInMs: number }).retryInMs) },
  });
  let opened = 0;
  const listener = {
    onOpen: () => opened++,
    onData: () => undefined,
    onDown: () => undefined,
    onUnavailable: () => undefined,
  };
  const link = new ReconnectingLink(
    connector,
    { initialDelayMs: 5, maxDelayMs: 1000, watchMs: 1000 },
    listener,
    log,
  );
  link.start();
  for (let round = 1; round <= times; round++) {
    while (opened < round) await new Promise((resolve) => setTimeout(resolve, 1));
    const latest = connections.at(-1);
    if (latest !== undefined) close(link, latest);
  }
  while (opened <= times) await new Promise((resolve) => setTimeout(resolve, 1));
  link.stop();
  return { delays, connections: connections.length };
}

test("link restart keeps the first retry delay", async (t) => {
  const { delays, connections } = await retryDelays(4, (link) => link.restart("silent"));
  t.deepEqual(delays, [5, 5, 5, 5]);
  t.is(connections, 5);
});

test("link closing by itself backs off", async (t) => {
  // The device's side drops the connection, as a device server that accepts and closes does.
  const { delays, connections } = await retryDelays(4, (_link, connection) =>
    connection.close("reset by peer"),
  );
  t.deepEqual(delays, [5, 10, 20, 40]);
  t.is(connections, 5);
});
