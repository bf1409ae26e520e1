/**
 * Finds, reads and validates firmware profiles. A profile is usable only if it validates;
 * every problem of every file is reported with its line.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  positionOf,
  problemsFromIssues,
  yamlErrorMessage,
  type Problem,
} from "../config/problems.js";
import { readYamlFile } from "../config/yaml-file.js";
import { messageOf } from "../errors.js";
import { checkProfile } from "./checks.js";
import { profileSchema, type Profile } from "./schema.js";

export interface LoadedProfile {
  profile: Profile;
  file: string;
  sha256: string;
}

/** A profile file that is not used because a file searched before it has the same id. */
export interface ProfileOverride {
  id: string;
  /** The file that is used. */
  file: string;
  /** The file with the same id that is ignored. */
  overridden: string;
}

export interface ProfileSet {
  profiles: Map<string, LoadedProfile>;
  problems: Problem[];
  overrides: ProfileOverride[];
}

/**
 * Folders where the built-in profiles may be: beside the bundle (dist/firmware-profiles) or
 * at the top of the repository when running from source.
 */
export function builtInProfileDirs(): string[] {
  return [join(__dirname, "firmware-profiles"), join(__dirname, "..", "..", "firmware-profiles")];
}

/** Returns why `dir` cannot be a folder of profiles, or undefined when it is a folder. */
export function profilesDirProblem(dir: string): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is a file, not a folder`;
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return `${dir} does not exist`;
    return `${dir} cannot be read (${messageOf(error)})`;
  }
}

/**
 * Loads every *.yaml profile in the folders, or with `only` just the files whose id is in it.
 * The first file with an id wins (folders in order, files by name) and later ones are listed
 * in `overrides`. A folder that does not exist is skipped, because an installation usually has
 * only one of the built-in folders.
 */
export function loadProfiles(dirs: readonly string[], only?: ReadonlySet<string>): ProfileSet {
  const set: ProfileSet = { profiles: new Map(), problems: [], overrides: [] };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      const message = `is not a readable folder of profiles (${messageOf(error)})`;
      set.problems.push({ file: dir, path: "", message });
      continue;
    }
    const files = names.filter((name) => /\.ya?ml$/.test(name)).sort();
    for (const name of files) {
      if (only !== undefined && !mayHaveId(join(dir, name), only)) continue;
      const result = loadProfileFile(join(dir, name));
      if (!result.ok) {
        set.problems.push(...result.problems);
        continue;
      }
      const { id } = result.loaded.profile;
      const used = set.profiles.get(id);
      if (used === undefined) set.profiles.set(id, result.loaded);
      else set.overrides.push({ id, file: used.file, overridden: result.loaded.file });
    }
  }
  return set;
}

export function loadProfileFile(
  file: string,
): { ok: true; loaded: LoadedProfile } | { ok: false; problems: Problem[] } {
  const read = readYamlFile(file);
  if (!read.ok) return read;
  const { yaml } = read;
  const parsed = profileSchema.safeParse(yaml.value, { error: yamlErrorMessage });
  if (!parsed.success) {
    const problems = problemsFromIssues(
      file,
      parsed.error.issues,
      yaml.document,
      yaml.lines,
      yaml.value,
    );
    return { ok: false, problems };
  }
  const locate = (path: readonly (string | number)[]) =>
    positionOf(yaml.document, yaml.lines, path);
  const checkProblems = checkProfile(file, parsed.data, locate);
  if (checkProblems.length > 0) return { ok: false, problems: checkProblems };
  const sha256 = createHash("sha256").update(yaml.text).digest("hex");
  return { ok: true, loaded: { profile: parsed.data, file, sha256 } };
}

/**
 * Returns false when a profile file's top-level `id:` line names an id outside `ids`. Parsing
 * and validating all ten built-in profiles took about 100 ms and raised the agent's peak
 * resident memory by 12 to 15 MB, for a gateway that uses one or two of them. Only a plain,
 * unquoted id is read this way. A file whose id is quoted (which may hide an escape such as
 * `\x2d`), or written any other way, is parsed in full, so no profile is skipped on a guess.
 */
function mayHaveId(file: string, ids: ReadonlySet<string>): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return true;
  }
  const match = /^id:[ \t]*([A-Za-z0-9][\w.@-]*)[ \t]*(?:#.*)?$/m.exec(text);
  return match === null || ids.has(match[1] ?? "");
}
