/** Reads a password from standard input: without echo from a terminal, else its first line. */
import { GatewayError } from "../errors.js";

const maxLength = 1024;

export function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return readFirstLine();
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      if (error === undefined) resolve(text);
      else reject(error);
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === "\r" || character === "\n") return finish();
        // Ctrl-C or Ctrl-D: stop without changing anything.
        if (character === "\u0003" || character === "\u0004") {
          return finish(new GatewayError("CLI_USAGE", "no password entered; nothing changed"));
        }
        if (character === "\u007f") text = text.slice(0, -1);
        else if (text.length < maxLength) text += character;
      }
    };
    input.on("data", onData);
  });
}

async function readFirstLine(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes("\n") || text.length > maxLength) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}
