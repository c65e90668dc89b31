/**
 * Which files look like they hold secrets. The agent's tools refuse them
 * (unless the user turns on `agent.allowSecretFiles`), because a model that
 * reads one would send its contents to the API, and a prompt injection in any
 * file the model reads can ask it to do exactly that.
 *
 * The test is on names only, never on contents: reading a file to decide
 * whether it is secret would already be the leak we are avoiding. Editors
 * (eglot especially) often make the home folder the workspace root, so the
 * list covers the credential files that live in a home folder, matched at any
 * depth below a root.
 *
 * `secretFilePatterns` is the one list; the README carries its rendering
 * (`secretFilesMarkdown`) verbatim, and a unit test keeps the two equal.
 */

export type SecretPatternKind =
  /** The file name is exactly `value`. */
  | 'name'
  /** The file name starts with `value`. */
  | 'prefix'
  /** The file name ends with `value`. */
  | 'suffix'
  /** Anything below a folder (one or more path segments, `.config/gcloud`) called `value`, at any depth. */
  | 'directory'
  /** The path ends with `value` (`.docker/config.json`): that file in that folder, at any depth. */
  | 'path';

export interface SecretFilePattern {
  readonly kind: SecretPatternKind;
  /** Lower case, `/` between segments. */
  readonly value: string;
  /** What such a file holds, for the README. */
  readonly holds: string;
}

const sshKeys = 'SSH private keys kept outside `.ssh/`';
const privateKeys = 'private keys and certificates (`server.key`, Rails `master.key`, Apple `AuthKey_*.p8`)';
const keyStores = 'key stores (PKCS #12, Java, Android), PuTTY keys, OpenVPN profiles (which embed their keys), KeePass databases';
const terraformCli = 'Terraform CLI tokens';
const terraformValues = 'Terraform variable values and state, which hold passwords and generated keys in plain text';
const netrc = 'logins for curl, git and ftp';
const composer = 'Composer registry logins';
const credentialFiles = 'credential files (`.aws/credentials`, `.cargo/credentials.toml`, `.gem/credentials`, `credentials.json`, `credentials.tfrc.json`, Rails `credentials.yml.enc`), a source file called `credentials.ts` too';
const postgres = 'PostgreSQL passwords';
const mysql = 'MySQL passwords';

/**
 * The one list. Entries that hold the same kind of secret share their
 * `holds` text and sit next to each other: the README shows them on one row.
 */
export const secretFilePatterns: readonly SecretFilePattern[] = [
  // Environment and shell.
  { kind: 'prefix', value: '.env', holds: 'environment files: `.env`, `.env.local`, `.env.production`, `.env-local`, `.envrc` (direnv), and `.env.example` too' },
  { kind: 'name', value: '.dev.vars', holds: "Cloudflare Wrangler's local secrets" },
  { kind: 'suffix', value: '_history', holds: 'shell and client histories (`.bash_history`, `.zsh_history`, `.psql_history`, `.python_history`): commands typed with tokens in them' },
  // Keys and key stores.
  { kind: 'directory', value: '.ssh', holds: 'SSH keys, and the hosts you reach (`config`, `known_hosts`)' },
  { kind: 'directory', value: '.gnupg', holds: 'GnuPG keys' },
  { kind: 'directory', value: '.password-store', holds: '`pass` passwords' },
  { kind: 'prefix', value: 'id_rsa', holds: sshKeys },
  { kind: 'prefix', value: 'id_dsa', holds: sshKeys },
  { kind: 'prefix', value: 'id_ecdsa', holds: sshKeys },
  { kind: 'prefix', value: 'id_ed25519', holds: sshKeys },
  { kind: 'suffix', value: '.pem', holds: privateKeys },
  { kind: 'suffix', value: '.key', holds: privateKeys },
  { kind: 'suffix', value: '.p8', holds: privateKeys },
  { kind: 'suffix', value: '.p12', holds: keyStores },
  { kind: 'suffix', value: '.pfx', holds: keyStores },
  { kind: 'suffix', value: '.jks', holds: keyStores },
  { kind: 'suffix', value: '.keystore', holds: keyStores },
  { kind: 'suffix', value: '.ppk', holds: keyStores },
  { kind: 'suffix', value: '.ovpn', holds: keyStores },
  { kind: 'suffix', value: '.kdbx', holds: keyStores },
  // Cloud and cluster logins.
  { kind: 'directory', value: '.aws', holds: 'AWS credentials and profiles' },
  { kind: 'directory', value: '.azure', holds: 'Azure CLI tokens' },
  { kind: 'directory', value: '.config/gcloud', holds: 'Google Cloud credentials (`application_default_credentials.json`, `credentials.db`)' },
  { kind: 'directory', value: '.kube', holds: 'Kubernetes cluster credentials (`config`)' },
  { kind: 'path', value: '.docker/config.json', holds: 'Docker registry logins' },
  { kind: 'name', value: '.boto', holds: 'gsutil and boto credentials' },
  { kind: 'name', value: '.s3cfg', holds: 's3cmd access keys' },
  { kind: 'prefix', value: 'client_secret', holds: 'Google OAuth client secrets (`client_secret_*.json`)' },
  { kind: 'name', value: '.vault-token', holds: 'a HashiCorp Vault token' },
  { kind: 'name', value: '.terraformrc', holds: terraformCli },
  { kind: 'name', value: 'terraform.rc', holds: terraformCli },
  { kind: 'suffix', value: '.tfvars', holds: terraformValues },
  { kind: 'suffix', value: '.tfvars.json', holds: terraformValues },
  { kind: 'suffix', value: '.tfstate', holds: terraformValues },
  { kind: 'suffix', value: '.tfstate.backup', holds: terraformValues },
  // Source hosting, git and HTTP.
  { kind: 'name', value: '.git-credentials', holds: "git's stored passwords and tokens" },
  { kind: 'path', value: '.config/gh/hosts.yml', holds: 'GitHub CLI tokens' },
  { kind: 'path', value: '.config/hub', holds: 'hub tokens' },
  { kind: 'name', value: '.netrc', holds: netrc },
  { kind: 'name', value: '_netrc', holds: netrc },
  // Package registries.
  { kind: 'name', value: '.npmrc', holds: 'npm registry tokens' },
  { kind: 'name', value: '.yarnrc.yml', holds: 'Yarn registry tokens (`npmAuthToken`)' },
  { kind: 'name', value: '.pypirc', holds: 'PyPI upload tokens' },
  { kind: 'name', value: 'pip.conf', holds: 'pip index URLs, which carry tokens for private indexes' },
  { kind: 'path', value: '.bundle/config', holds: 'Bundler gem source logins' },
  { kind: 'path', value: '.m2/settings.xml', holds: 'Maven repository passwords' },
  { kind: 'path', value: '.gradle/gradle.properties', holds: 'Gradle repository and signing passwords' },
  { kind: 'path', value: '.composer/auth.json', holds: composer },
  { kind: 'path', value: '.config/composer/auth.json', holds: composer },
  { kind: 'name', value: 'credentials', holds: credentialFiles },
  { kind: 'prefix', value: 'credentials.', holds: credentialFiles },
  { kind: 'prefix', value: 'secrets.', holds: 'secret files (`secrets.yml`, `secrets.json`, `.streamlit/secrets.toml`), a source file called `secrets.py` too' },
  // Databases and servers.
  { kind: 'name', value: '.pgpass', holds: postgres },
  { kind: 'name', value: 'pgpass.conf', holds: postgres },
  { kind: 'name', value: '.my.cnf', holds: mysql },
  { kind: 'name', value: '.mylogin.cnf', holds: mysql },
  { kind: 'name', value: '.htpasswd', holds: 'web server password hashes' },
];

/** How an entry reads in the README: `.env*`, `*.pem`, `.ssh/`, `.docker/config.json`. */
export function renderSecretPattern(pattern: SecretFilePattern): string {
  switch (pattern.kind) {
    case 'name':
    case 'path':
      return pattern.value;
    case 'prefix':
      return `${pattern.value}*`;
    case 'suffix':
      return `*${pattern.value}`;
    case 'directory':
      return `${pattern.value}/`;
  }
}

/** The README's list of secret-looking files, generated from `secretFilePatterns` so the two cannot drift. */
export function secretFilesMarkdown(): string {
  const rows: { patterns: string[]; holds: string }[] = [];
  for (const pattern of secretFilePatterns) {
    const last = rows[rows.length - 1];
    if (last !== undefined && last.holds === pattern.holds) last.patterns.push(renderSecretPattern(pattern));
    else rows.push({ patterns: [renderSecretPattern(pattern)], holds: pattern.holds });
  }
  const lines = rows.map(({ patterns, holds }) => `| ${patterns.map((pattern) => `\`${pattern}\``).join(', ')} | ${holds.replace(/\|/g, '\\|')} |`);
  return [
    'Names are compared ignoring letter case, at any depth below a workspace folder: `name*` is a file name starting with `name`, `*name` one ending with it, `folder/` is everything below a folder of that name, and `folder/file` is that file in that folder.',
    '',
    '| refused | what it holds |',
    '|---|---|',
    ...lines,
  ].join('\n');
}

/** True when the file's name, or a folder it is under, looks like it holds secrets. */
export function looksSecret(absolutePath: string): boolean {
  const segments = segmentsOf(absolutePath);
  const name = segments[segments.length - 1] ?? '';
  return compiledPatterns.some((pattern) => pattern.matches(segments, name));
}

/** True for a directory the search never descends into unless secret files are allowed. */
export function isSecretDirectoryName(name: string): boolean {
  return secretDirectoryNames.has(name.toLowerCase());
}

interface CompiledPattern {
  matches(segments: readonly string[], name: string): boolean;
}

const compiledPatterns: readonly CompiledPattern[] = secretFilePatterns.map(compile);

// Folders that are secret by their name alone; `.config/gcloud` needs its
// parent too, so a walk finds it by `looksSecret` on the files below it.
const secretDirectoryNames: ReadonlySet<string> = new Set(
  secretFilePatterns.filter((pattern) => pattern.kind === 'directory' && !pattern.value.includes('/')).map((pattern) => pattern.value),
);

function compile(pattern: SecretFilePattern): CompiledPattern {
  const { value } = pattern;
  switch (pattern.kind) {
    case 'name':
      return { matches: (_segments, name) => name === value };
    case 'prefix':
      return { matches: (_segments, name) => name.startsWith(value) };
    case 'suffix':
      return { matches: (_segments, name) => name.endsWith(value) };
    case 'directory': {
      // The path itself counts as well as what is below it: the folder is not
      // listed or read either.
      const wanted = value.split('/');
      return { matches: (segments) => containsRun(segments, wanted) };
    }
    case 'path': {
      const wanted = value.split('/');
      return { matches: (segments) => endsWithRun(segments, wanted) };
    }
  }
}

// Lower-cased: on case-insensitive file systems `.ENV` is `.env`. Both
// separators split on every platform; on POSIX that only makes the test
// stricter for a name that contains a backslash.
function segmentsOf(path: string): string[] {
  return path.toLowerCase().split(/[\\/]+/).filter((segment) => segment !== '');
}

function containsRun(segments: readonly string[], run: readonly string[]): boolean {
  for (let start = 0; start + run.length <= segments.length; start++) {
    if (run.every((segment, offset) => segments[start + offset] === segment)) return true;
  }
  return false;
}

function endsWithRun(segments: readonly string[], run: readonly string[]): boolean {
  const start = segments.length - run.length;
  return start >= 0 && run.every((segment, offset) => segments[start + offset] === segment);
}
