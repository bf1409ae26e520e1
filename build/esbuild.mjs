// Builds dist/: one CommonJS bundle of the agent, a second one of the optional OPC UA server
// (node-opcua, loaded only when enabled), the serialport native binding beside them (native
// code cannot be bundled), the OPC UA standard nodeset and the built-in firmware profiles.
import { build } from "esbuild";
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const bindings = join(root, "node_modules", "@serialport", "bindings-cpp");

// @serialport/bindings-cpp looks for its .node file relative to its own __dirname, which is
// the bundle's folder after bundling; point node-gyp-build at dist/native/serialport instead.
const serialportNative = {
  name: "serialport-native",
  setup(context) {
    context.onLoad(
      { filter: /@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ },
      () => ({
        loader: "js",
        contents: [
          '"use strict";',
          'Object.defineProperty(exports, "__esModule", { value: true });',
          'const path = require("path");',
          'exports.binding = require("node-gyp-build")(path.join(__dirname, "native", "serialport"));',
        ].join("\n"),
      }),
    );
  },
};

// src/opcua/handle.ts loads the OPC UA server on demand; in the bundle that is dist/opcua.cjs,
// so an MQTT-only gateway never loads node-opcua's 8 MB.
const opcuaApart = {
  name: "opcua-apart",
  setup(context) {
    context.onResolve({ filter: /^\.\/server\.js$/ }, (args) =>
      /[\\/]src[\\/]opcua$/.test(args.resolveDir)
        ? { path: "./opcua.cjs", external: true }
        : undefined,
    );
  },
};

const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;

// zod bundles its messages in some 50 languages (about 360 KiB), reachable only through
// z.locales. The agent reports in English, whose messages zod loads from locales/en.js, so
// the index of all the others becomes a module that exports English alone.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(context) {
    context.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)) return undefined;
      return { path: join(args.resolveDir, "..", "locales", "en.js") };
    });
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await build({
  entryPoints: [join(root, "src", "cli", "main.ts")],
  outfile: join(dist, "iomt-gateway.cjs"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  sourcemap: "external",
  // Error codes, not class names, are what callers branch on; names only help stack traces.
  keepNames: true,
  metafile: true,
  logLevel: "warning",
  plugins: [serialportNative, opcuaApart, zodEnglishOnly],
  // Every copy of the `debug` package becomes one small module whose disabled loggers
  // allocate nothing per call; build/debug.cjs says why.
  alias: { debug: join(root, "build", "debug.cjs") },
  // Whitespace and syntax only, so stack traces keep their names. Without comments the source
  // is all ASCII, which V8 keeps at one byte a character: a 1.3 MB string in place of 6 MB.
  minifyWhitespace: true,
  minifySyntax: true,
  // Runs before any module loads: on an older Node the first failure would otherwise be a bare
  // "No such built-in module: node:sqlite" from deep inside the bundle.
  banner: {
    js: [
      "{ const [major, minor] = process.versions.node.split('.').map(Number);",
      "  if (major < 22 || (major === 22 && minor < 13) || major === 23) {",
      "    process.stderr.write('iomt-gateway needs Node 22.13 or newer 22.x, or Node 24 (this is ' + process.version + '); install a supported Node\\n');",
      "    process.exit(1); } }",
    ].join("\n"),
  },
});

const opcua = await build({
  entryPoints: [join(root, "src", "opcua", "server.ts")],
  outfile: join(dist, "opcua.cjs"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  sourcemap: "external",
  keepNames: true,
  metafile: true,
  logLevel: "warning",
  // An optional peer of @ster5/global-mutex that node-opcua never reaches here.
  external: ["proper-lockfile"],
});

// node-opcua reads the standard nodeset at start; server.ts looks for it beside the bundle.
const nodesets = join(root, "node_modules", "node-opcua-nodesets", "nodesets");
mkdirSync(join(dist, "nodesets"), { recursive: true });
for (const file of ["Opc.Ua.NodeSet2.xml", "Opc.Ua.NodeSet2.ndjson.gz"]) {
  cpSync(join(nodesets, file), join(dist, "nodesets", file));
}

// Linux prebuilds only: the gateway runs Linux on arm (Pi 2/3 32-bit), arm64 and x64.
const nativeDir = join(dist, "native", "serialport");
mkdirSync(nativeDir, { recursive: true });
cpSync(join(bindings, "package.json"), join(nativeDir, "package.json"));
for (const platform of ["linux-arm", "linux-arm64", "linux-x64"]) {
  cpSync(join(bindings, "prebuilds", platform), join(nativeDir, "prebuilds", platform), {
    recursive: true,
  });
}
cpSync(join(root, "firmware-profiles"), join(dist, "firmware-profiles"), { recursive: true });
chmodSync(join(dist, "iomt-gateway.cjs"), 0o755);

// node-opcua looks for a package.json at or above its own folder when it loads.
writeFileSync(
  join(dist, "package.json"),
  JSON.stringify({ name: "iomt-gateway", version, private: true, type: "commonjs" }, null, 2),
);

const bytes = [result, opcua]
  .flatMap((built) => Object.values(built.metafile.outputs))
  .reduce((sum, output) => sum + output.bytes, 0);
writeFileSync(
  join(dist, "BUILD.json"),
  JSON.stringify({ version, builtAt: new Date().toISOString() }, null, 2),
);
console.log(`dist/ built (${(bytes / 1024).toFixed(0)} KiB of bundles with source maps)`);
