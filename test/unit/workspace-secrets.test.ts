/**
 * The secret-looking files the agent refuses: every entry of the one list,
 * with the home folder as the workspace (eglot often makes it the root), read
 * with read_file and looked for with search_workspace.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { looksSecret, renderSecretPattern, secretFilePatterns } from '../../server/src/agent/workspace-secrets.js';
import { WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import type { ToolOutcome } from '../../server/src/agent/workspace-tools.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

/** Each entry of the list as the README shows it, with files it must refuse. */
const secretFiles: Record<string, readonly string[]> = {
  '.env*': ['.env', '.env.local', '.env.production', '.envrc', '.env-local', 'app/.env.example'],
  '.dev.vars': ['worker/.dev.vars'],
  '*_history': ['.bash_history', '.zsh_history', '.psql_history', '.local/share/fish/fish_history'],
  '.ssh/': ['.ssh/config', '.ssh/known_hosts', '.ssh/deploy'],
  '.gnupg/': ['.gnupg/pubring.kbx.txt'],
  '.password-store/': ['.password-store/email/work.txt'],
  'id_rsa*': ['id_rsa', 'backup/id_rsa.old'],
  'id_dsa*': ['id_dsa'],
  'id_ecdsa*': ['keys/id_ecdsa_sk'],
  'id_ed25519*': ['id_ed25519', 'id_ed25519.pub'],
  '*.pem': ['certs/server.pem'],
  '*.key': ['config/master.key', 'tls/server.key'],
  '*.p8': ['AuthKey_ABC123.p8'],
  '*.p12': ['signing/cert.p12'],
  '*.pfx': ['signing/cert.pfx'],
  '*.jks': ['android/release.jks'],
  '*.keystore': ['android/release.keystore'],
  '*.ppk': ['putty/server.ppk'],
  '*.ovpn': ['vpn/office.ovpn'],
  '*.kdbx': ['Passwords.kdbx'],
  '.aws/': ['.aws/credentials', '.aws/config'],
  '.azure/': ['.azure/msal_token_cache.json'],
  '.config/gcloud/': ['.config/gcloud/application_default_credentials.json', '.config/gcloud/configurations/config_default'],
  '.kube/': ['.kube/config', '.kube/config-staging'],
  '.docker/config.json': ['.docker/config.json'],
  '.boto': ['.boto'],
  '.s3cfg': ['.s3cfg'],
  'client_secret*': ['client_secret_123.apps.googleusercontent.com.json', 'client_secrets.json'],
  '.vault-token': ['.vault-token'],
  '.terraformrc': ['.terraformrc'],
  'terraform.rc': ['terraform.rc'],
  '*.tfvars': ['infra/terraform.tfvars', 'infra/prod.auto.tfvars'],
  '*.tfvars.json': ['infra/terraform.tfvars.json'],
  '*.tfstate': ['infra/terraform.tfstate'],
  '*.tfstate.backup': ['infra/terraform.tfstate.backup'],
  '.git-credentials': ['.git-credentials'],
  '.config/gh/hosts.yml': ['.config/gh/hosts.yml'],
  '.config/hub': ['.config/hub'],
  '.netrc': ['.netrc'],
  _netrc: ['_netrc'],
  '.npmrc': ['.npmrc', 'web/.npmrc'],
  '.yarnrc.yml': ['.yarnrc.yml'],
  '.pypirc': ['.pypirc'],
  'pip.conf': ['.config/pip/pip.conf'],
  '.bundle/config': ['.bundle/config'],
  '.m2/settings.xml': ['.m2/settings.xml'],
  '.gradle/gradle.properties': ['.gradle/gradle.properties'],
  '.composer/auth.json': ['.composer/auth.json'],
  '.config/composer/auth.json': ['.config/composer/auth.json'],
  credentials: ['.cargo/credentials', '.gem/credentials', '.config/git/credentials'],
  'credentials.*': ['.cargo/credentials.toml', 'config/credentials.json', '.terraform.d/credentials.tfrc.json', 'config/credentials.yml.enc', 'src/auth/credentials.ts'],
  'secrets.*': ['config/secrets.yml', '.streamlit/secrets.toml', 'settings/secrets.py'],
  '.pgpass': ['.pgpass'],
  'pgpass.conf': ['AppData/Roaming/postgresql/pgpass.conf'],
  '.my.cnf': ['.my.cnf'],
  '.mylogin.cnf': ['.mylogin.cnf'],
  '.htpasswd': ['public/.htpasswd'],
};

/** Names close to a secret one that are ordinary source, readable and searchable. */
const ordinaryFiles: readonly string[] = [
  'src/environment.ts',
  'src/env.ts',
  'src/env/index.ts',
  'src/keys.ts',
  'src/monkey.ts',
  'src/hotkey.ts',
  'src/credential.ts',
  'src/credentials-helper.ts',
  'src/credentialsProvider.ts',
  'src/secretsManager.ts',
  'src/history.ts',
  'src/pem-parser.ts',
  'docs/ssh.md',
  'docs/ssh/setup.md',
  'docker/config.json',
  '.config/gh/config.yml',
  'kube/config.yaml',
  'infra/variables.tf',
  'infra/main.tf',
  '.github/workflows/ci.yml',
  'id.ts',
  'settings.gradle',
  'gradle.properties',
];

let base: string;
let home: string;
const documents = new DocumentStore();

/** Unique per path, and never a prefix of another path's. */
function markerOf(path: string): string {
  return `SECRET-CONTENT-${Buffer.from(path).toString('hex')}-END`;
}

async function write(path: string, content: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-secrets-')));
  home = join(base, 'home', 'me');
  for (const path of [...Object.values(secretFiles).flat(), ...ordinaryFiles]) await write(join(home, path), `token = ${markerOf(path)}\n`);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function tools(allowSecretFiles = false): WorkspaceTools {
  return new WorkspaceTools({ roots: () => [home], documents, allowSecretFiles: () => allowSecretFiles });
}

function everything(outcome: ToolOutcome): string {
  return `${outcome.content}\n${outcome.note}\n${outcome.summary}`;
}

describe('the secret-file list', () => {
  it('has a test case here for every entry, and no case for an entry it lacks', () => {
    expect(Object.keys(secretFiles).sort()).toEqual(secretFilePatterns.map(renderSecretPattern).sort());
  });

  it('covers the credential files named in the hardening issue', () => {
    const named = ['.envrc', '.env-local', '.pgpass', '.docker/config.json', '.kube/config', '.netrc', '.npmrc', '.pypirc', '.config/gh/hosts.yml', '.aws/credentials', '.config/gcloud/application_default_credentials.json', '.git-credentials', '.ssh/config'];
    for (const path of named) expect(looksSecret(join(home, path)), path).toBe(true);
  });
});

describe.each(Object.entries(secretFiles))('%s', (_pattern, paths) => {
  it.each(paths)('read_file refuses %s and search_workspace skips it, unless secret files are allowed', async (path) => {
    const marker = markerOf(path);
    const read = await tools().run('read_file', { path });
    expect(read.isError, read.content).toBe(true);
    expect(read.content).toContain('looks like it holds secrets');
    expect(everything(read)).not.toContain(marker);

    // The query is echoed; the line holding it is what must not come back.
    const search = await tools().run('search_workspace', { query: marker });
    expect(search.content).toContain('No matches');
    expect(everything(search)).not.toContain(`token = ${marker}`);

    // Not refused for some other reason: with the setting on, both find it.
    const allowedRead = await tools(true).run('read_file', { path });
    expect(allowedRead.content).toContain(marker);
    const allowedSearch = await tools(true).run('search_workspace', { query: marker });
    expect(allowedSearch.content).toContain(`${path}:1: token = ${marker}`);
  });
});

describe('names close to a secret one', () => {
  it.each(ordinaryFiles)('%s is read and searched', async (path) => {
    const marker = markerOf(path);
    const read = await tools().run('read_file', { path });
    expect(read.isError, read.content).toBe(false);
    expect(read.content).toContain(marker);
    const search = await tools().run('search_workspace', { query: marker });
    expect(search.content).toContain(`${path}:1: token = ${marker}`);
  });
});

describe('letter case', () => {
  it('does not matter: upper-case names are as secret as lower-case ones', () => {
    for (const path of ['.ENV.Production', 'ID_RSA', '.SSH/config', 'certs/Server.PEM', '.Docker/Config.json', '.CONFIG/GCloud/x.json', 'Credentials.JSON', '.NPMRC']) {
      expect(looksSecret(join(home, path)), path).toBe(true);
    }
  });
});
