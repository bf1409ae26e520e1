/** Free TCP ports on loopback for servers that tests and scripts start. */
import net from "node:net";

/** Returns a port that was free a moment ago; a server must still retry when it is taken. */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") {
    throw new Error(`could not read the port of a loopback listener (got ${String(address)})`);
  }
  return address.port;
}
