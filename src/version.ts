import packageJson from "../package.json";

/** The agent's version; the bundler inlines package.json, so this needs no file at run time. */
export const agentVersion: string = packageJson.version;
