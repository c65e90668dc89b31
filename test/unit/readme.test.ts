import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretFilesMarkdown } from '../../server/src/agent/workspace-secrets.js';
import { settingsTableMarkdown } from '../../server/src/settings/settings-table.js';
import { repoRoot } from '../support/lsp-client.js';

describe('the README', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

  it('carries the settings table generated from the schema (node dist/scripts/readme-tables.js)', () => {
    expect(readme).toContain(settingsTableMarkdown());
  });

  it('carries the list of secret-looking files the agent refuses, generated from the one list (node dist/scripts/readme-tables.js)', () => {
    expect(readme).toContain(secretFilesMarkdown());
  });

  it('shows the two commands a newcomer runs', () => {
    expect(readme).toContain('npm install && npm run demo');
    expect(readme).toContain('npm install && npm test');
  });
});
