/**
 * Rewrites the README's generated parts from their one source each:
 * `node dist/scripts/readme-tables.js` (a unit test fails while they differ).
 * - the settings table, from the schema in server/src/settings/config.ts;
 * - the list of secret-looking files, from server/src/agent/workspace-secrets.ts.
 * Each part runs from its first line to the next blank line after its table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secretFilesMarkdown } from '../server/src/agent/workspace-secrets.js';
import { settingsTableMarkdown } from '../server/src/settings/settings-table.js';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');

/** The README with the part that starts with `rendered`'s first line, through its table, replaced by `rendered`. */
function replacePart(readme: string, rendered: string, tableHeader: string): string {
  const start = readme.indexOf(rendered.slice(0, rendered.indexOf('\n') < 0 ? undefined : rendered.indexOf('\n')).slice(0, 40));
  const table = readme.indexOf(tableHeader, start);
  const end = readme.indexOf('\n\n', table);
  if (start < 0 || table < 0) throw new Error(`README.md has no "${tableHeader}" table to replace; paste the rendered part where it belongs first`);
  return `${readme.slice(0, start)}${rendered}${end < 0 ? '' : readme.slice(end)}`;
}

let readme = readFileSync(readmePath, 'utf8');
readme = replacePart(readme, settingsTableMarkdown(), '| setting (`efrit.…`) | default | meaning |');
readme = replacePart(readme, secretFilesMarkdown(), '| refused | what it holds |');
writeFileSync(readmePath, readme);
process.stdout.write('README.md: settings table and secret-looking files updated\n');
