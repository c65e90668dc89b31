/**
 * Generated TypeScript-looking source of an exact length, for benchmarks.
 *
 * Realistic rather than uniform on purpose: line lengths vary (blank lines,
 * short braces, long signatures and comments), indentation nests, and there is
 * the odd non-ASCII character, so line-table lookups and window planning see
 * what they would in a real file. Seeded, so every run measures the same text.
 *
 * `asciiOnly` matters more than it looks: one character outside Latin-1 (an
 * em dash in a comment) makes V8 store the whole text two bytes per
 * character, and past 64K characters every copy of it then goes to V8's
 * large-object space, which makes each keystroke many times dearer (see the
 * sync scenario). Both kinds of file are common, so both are measured.
 */

/** mulberry32: tiny, fast, and the same sequence for a seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nouns = ['user', 'order', 'invoice', 'session', 'buffer', 'token', 'request', 'config', 'cache', 'item', 'price', 'range'];
const verbs = ['load', 'parse', 'render', 'validate', 'update', 'compute', 'resolve', 'merge', 'format', 'fetch'];
const types = ['string', 'number', 'boolean', 'Date', 'Map<string, number>', 'readonly string[]', 'Promise<void>'];

export interface GenerateOptions {
  /** @default 0x5eed */
  seed?: number;
  /** Replace the few non-ASCII characters (—, « ») with ASCII ones. @default false */
  asciiOnly?: boolean;
}

/** Source text of exactly `chars` UTF-16 code units (cut mid-line if need be). */
export function generateSource(chars: number, options: GenerateOptions = {}): string {
  const seed = options.seed ?? 0x5eed;
  const dash = options.asciiOnly === true ? '-' : '—';
  const [open, close] = options.asciiOnly === true ? ['"', '"'] : ['«', '»'];
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const name = (): string => `${pick(verbs)}${capitalize(pick(nouns))}`;
  const lines: string[] = [];
  let length = 0;
  const push = (line: string): void => {
    lines.push(line);
    length += line.length + 1;
  };
  push(`import { ${name()}, ${name()} } from './${pick(nouns)}.js';`);
  let block = 0;
  while (length < chars) {
    const kind = random();
    block++;
    if (kind < 0.25) {
      const type = `${capitalize(pick(nouns))}${block}`;
      push(`/** What a ${pick(nouns)} carries between ${pick(verbs)} and ${pick(verbs)} (see #${block}). */`);
      push(`export interface ${type} {`);
      const fields = 2 + Math.floor(random() * 6);
      for (let i = 0; i < fields; i++) push(`  ${pick(nouns)}${i}${random() < 0.3 ? '?' : ''}: ${pick(types)};`);
      push('}');
    } else if (kind < 0.85) {
      const fn = `${name()}${block}`;
      push(`export async function ${fn}(${pick(nouns)}: ${pick(types)}, options: { ${pick(nouns)}?: ${pick(types)} } = {}): Promise<number> {`);
      const statements = 3 + Math.floor(random() * 12);
      let depth = 1;
      for (let i = 0; i < statements; i++) {
        const indent = '  '.repeat(depth);
        const r = random();
        if (r < 0.15 && depth < 4) {
          push(`${indent}if (${pick(nouns)}.length > ${Math.floor(random() * 100)} && options.${pick(nouns)} !== undefined) {`);
          depth++;
        } else if (r < 0.25 && depth > 1) {
          depth--;
          push(`${'  '.repeat(depth)}}`);
        } else if (r < 0.35) {
          push(`${indent}// ${pick(verbs)} before ${pick(verbs)}ing: the ${pick(nouns)} may be stale ${dash} keep it short.`);
        } else if (r < 0.42) {
          push('');
        } else {
          push(`${indent}const ${pick(nouns)}${i} = await ${name()}(${pick(nouns)}, ${Math.floor(random() * 1000)});`);
        }
      }
      while (depth > 1) {
        depth--;
        push(`${'  '.repeat(depth)}}`);
      }
      push(`  return ${pick(nouns)}.length;`);
      push('}');
    } else {
      push(`export const ${pick(nouns)}${block} = new Map<string, ${pick(types)}>(); // ${open}${pick(nouns)}${close} by id`);
    }
    push('');
  }
  // Sliced, then copied flat: a client's text arrives as one flat string, not a slice of a bigger one.
  return flatCopy(lines.join('\n').slice(0, chars));
}

function flatCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
