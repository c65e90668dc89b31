/**
 * Rewrites the README's list of secret-looking files from the one list in
 * server/src/agent/workspace-secrets.ts: `node dist/scripts/secret-files-table.js`
 * (a unit test fails while they differ).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secretFilesMarkdown } from '../server/src/agent/workspace-secrets.js';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const rendered = secretFilesMarkdown();
// The rendering is an opening sentence, a blank line and a table; the table ends at the next blank line.
const start = readme.indexOf(rendered.slice(0, rendered.indexOf('\n')).slice(0, 40));
const tableHeader = readme.indexOf('| refused | what it holds |', start);
const end = readme.indexOf('\n\n', tableHeader);
if (start < 0 || tableHeader < 0) throw new Error('README.md has no list of secret-looking files to replace; paste the output of secretFilesMarkdown() where it belongs first');
writeFileSync(readmePath, `${readme.slice(0, start)}${rendered}${end < 0 ? '' : readme.slice(end)}`);
process.stdout.write('README.md list of secret-looking files updated\n');
