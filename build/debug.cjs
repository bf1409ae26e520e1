/**
 * Stands in for the `debug` package inside the agent's bundle (build/esbuild.mjs aliases it).
 * mqtt.js, mqtt-packet and serialport call their debug loggers several times per message, and
 * debug 4's log function collects its arguments into a new array on every call, even with its
 * namespace off: a fifth of the agent's allocations at the ward benchmark's load. Here a
 * namespace that is off gets a function that does nothing.
 *
 * DEBUG still selects namespaces as in debug 4: names separated by commas or spaces, `*` for
 * any text, and a leading `-` to exclude, which wins over any name that includes. It is read
 * when a library creates its logger, at load. Lines go to stderr, formatted as debug 4 does.
 */
"use strict";
const { format, inspect } = require("node:util");

function createDebug(namespace) {
  const enabled = isEnabled(namespace, process.env.DEBUG ?? "");
  const logger = enabled
    ? (formatter, ...args) => {
        const time = new Date().toISOString();
        process.stderr.write(`${time} ${namespace} ${formatLine(formatter, args)}\n`);
      }
    : () => undefined;
  logger.enabled = enabled;
  logger.namespace = namespace;
  logger.extend = (suffix, delimiter = ":") => createDebug(namespace + delimiter + suffix);
  return logger;
}

/**
 * Formats as debug 4 does on Node: a first argument that is not a string is shown as with %O,
 * and %o shows a value on one line, where util.format would spread it over several.
 */
function formatLine(formatter, args) {
  if (typeof formatter !== "string") return formatLine("%O", [formatter, ...args]);
  const values = [...args];
  let index = 0;
  const text = formatter.replace(/%[sdifjoOc%]/g, (token) => {
    if (token === "%%") return token;
    const at = index++;
    if (at >= values.length) return token;
    if (token === "%o") {
      values[at] = inspect(values[at], { breakLength: Infinity });
      return "%s";
    }
    if (token === "%O") {
      values[at] = inspect(values[at]);
      return "%s";
    }
    return token;
  });
  return format(text, ...values);
}

function isEnabled(namespace, patterns) {
  const names = patterns.split(/[\s,]+/).filter((pattern) => pattern !== "");
  const excluded = names.filter((name) => name.startsWith("-")).map((name) => name.slice(1));
  if (excluded.some((pattern) => matches(namespace, pattern))) return false;
  return names.some((pattern) => !pattern.startsWith("-") && matches(namespace, pattern));
}

/**
 * Matches `*` as any text, in time proportional to the two lengths multiplied, without a
 * regular expression: a DEBUG value with many stars cannot make it backtrack for long.
 */
function matches(namespace, pattern) {
  let at = 0;
  let next = 0;
  let star = -1;
  let resumeAt = 0;
  while (at < namespace.length) {
    if (pattern[next] === "*") {
      star = next++;
      resumeAt = at;
    } else if (next < pattern.length && pattern[next] === namespace[at]) {
      next++;
      at++;
    } else if (star >= 0) {
      next = star + 1;
      at = ++resumeAt;
    } else {
      return false;
    }
  }
  while (pattern[next] === "*") next++;
  return next === pattern.length;
}

module.exports = createDebug;
module.exports.default = createDebug;
module.exports.isEnabled = isEnabled;
