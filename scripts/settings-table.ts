/**
 * Rewrites the README's settings table from the schema:
 * `node dist/scripts/settings-table.js` (a unit test fails while they differ).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsTableMarkdown } from '../server/src/settings-table.js';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = readme.indexOf('| setting (`efrit.…`) | default | meaning |');
const end = readme.indexOf('\n\n', start);
if (start < 0 || end < 0) throw new Error('README.md has no settings table to replace');
writeFileSync(readmePath, `${readme.slice(0, start)}${settingsTableMarkdown()}${readme.slice(end)}`);
process.stdout.write('README.md settings table updated\n');
