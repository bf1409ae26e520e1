/**
 * Finds, reads and validates firmware profiles. A profile is usable only if it validates;
 * every problem of every file is reported with its line.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { problemsFromIssues, yamlErrorMessage, type Problem } from "../config/problems.js";
import { readYamlFile } from "../config/yaml-file.js";
import { profileSchema, type Profile } from "./schema.js";

export interface LoadedProfile {
  profile: Profile;
  file: string;
  sha256: string;
}

export interface ProfileSet {
  profiles: Map<string, LoadedProfile>;
  problems: Problem[];
}

/**
 * Folders where the built-in profiles may be: beside the bundle (dist/firmware-profiles) or
 * at the top of the repository when running from source.
 */
export function builtInProfileDirs(): string[] {
  return [join(__dirname, "firmware-profiles"), join(__dirname, "..", "..", "firmware-profiles")];
}

/** Loads every *.yaml profile in the folders; an earlier folder's profile wins over a later one. */
export function loadProfiles(dirs: readonly string[]): ProfileSet {
  const set: ProfileSet = { profiles: new Map(), problems: [] };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort();
    for (const name of files) {
      const result = loadProfileFile(join(dir, name));
      if (!result.ok) {
        set.problems.push(...result.problems);
        continue;
      }
      if (!set.profiles.has(result.loaded.profile.id)) {
        set.profiles.set(result.loaded.profile.id, result.loaded);
      }
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
  const patternProblems = checkPatterns(file, parsed.data);
  if (patternProblems.length > 0) return { ok: false, problems: patternProblems };
  const sha256 = createHash("sha256").update(yaml.text).digest("hex");
  return { ok: true, loaded: { profile: parsed.data, file, sha256 } };
}

function checkPatterns(file: string, profile: Profile): Problem[] {
  return profile.absentPatterns.flatMap((pattern, index) => {
    try {
      new RegExp(pattern);
      return [];
    } catch (error) {
      const message = `is not a valid regular expression (${(error as Error).message})`;
      return [{ file, path: `absentPatterns[${index}]`, message }];
    }
  });
}
