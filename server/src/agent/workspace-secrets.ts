/**
 * Which files look like they hold secrets. The agent's tools refuse them
 * (unless the user turns on `agent.allowSecretFiles`), because a model that
 * reads one would send its contents to the API, and a prompt injection in any
 * file the model reads can ask it to do exactly that.
 *
 * The test is on names only, never on contents: reading a file to decide
 * whether it is secret would already be the leak we are avoiding.
 */
import { basename, sep } from 'node:path';

// Anything below one of these directories is secret, whatever its name
// (`~/.ssh/config` has none of the key names, but names every host).
const secretDirectoryNames = new Set(['.ssh', '.aws', '.gnupg']);

// Compared lower-cased: on case-insensitive file systems `.ENV` is `.env`.
const secretFileNamePatterns: readonly RegExp[] = [
  /^\.env$/,
  /^\.env\../,
  /\.pem$/,
  /\.key$/,
  /\.p12$/,
  /\.pfx$/,
  /^id_rsa/,
  /^id_ed25519/,
  /^id_ecdsa/,
  /^id_dsa/,
  /^\.npmrc$/,
  /^\.pypirc$/,
  /^\.netrc$/,
  /^_netrc$/,
  /^\.git-credentials$/,
  /^credentials/,
];

/** True when the file's name, or a directory it is under, looks like it holds secrets. */
export function looksSecret(absolutePath: string): boolean {
  const name = basename(absolutePath).toLowerCase();
  if (secretFileNamePatterns.some((pattern) => pattern.test(name))) return true;
  return absolutePath.split(sep).some((segment) => secretDirectoryNames.has(segment.toLowerCase()));
}

/** True for a directory the search never descends into unless secret files are allowed. */
export function isSecretDirectoryName(name: string): boolean {
  return secretDirectoryNames.has(name.toLowerCase());
}
