/**
 * The package's environment variables (README, Environment variables), read through one rule so that a flag means
 * the same in every place: "1", "true" or "yes" is on; "0", "false", "no", empty or unset is off (or the caller's
 * default); anything else is a mistake worth stopping for, not a value to guess at.
 */

const ON = new Set(['1', 'true', 'yes']);
const OFF = new Set(['0', 'false', 'no']);

/** The variable's value, undefined when unset or empty (`VAR= cmd` unsets it for one command). */
export function envString(name: string): string | undefined {
  // Bundled for a browser there is no process: every variable reads as unset.
  const v = typeof process === 'undefined' ? undefined : process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** A boolean variable: `unset` (default false) when unset or empty; throws on a value that is not a flag. */
export function envFlag(name: string): boolean;
export function envFlag<T>(name: string, unset: T): boolean | T;
export function envFlag(name: string, ...unset: [unknown?]): unknown {
  const v = envString(name);
  // A rest parameter, not a default value: envFlag(name, undefined) must return undefined, not false.
  if (v === undefined) return unset.length > 0 ? unset[0] : false;
  const s = v.trim().toLowerCase();
  if (ON.has(s)) return true;
  if (OFF.has(s)) return false;
  throw new Error(`environment variable ${name}=${JSON.stringify(v)} is not a flag: use 1/true/yes or 0/false/no`);
}

/** A whole number >= 0 (an index such as a device number): undefined when unset or empty; throws on anything else. */
export function envIndex(name: string): number | undefined {
  const v = envString(name);
  if (v === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new Error(`environment variable ${name}=${JSON.stringify(v)} is not an index: use a whole number >= 0`);
  }
  return Number(v);
}
