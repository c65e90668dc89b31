/** The README's settings table, generated from the one schema so the two cannot drift. */
import { settingsSchema } from './config.js';

function shown(value: unknown): string {
  if (typeof value === 'string') return value === '' ? '(unset)' : `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

export function settingsTableMarkdown(): string {
  const rows = Object.entries(settingsSchema).map(([key, spec]) => `| \`${key}\` | ${shown(spec.default)} | ${spec.description.replace(/\|/g, '\\|')} |`);
  return ['| setting (`efrit.…`) | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
