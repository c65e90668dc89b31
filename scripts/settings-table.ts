/** Prints the settings table for the README: `node dist/scripts/settings-table.js`. */
import { settingsTableMarkdown } from '../server/src/settings-table.js';

process.stdout.write(`${settingsTableMarkdown()}\n`);
