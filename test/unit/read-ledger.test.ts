/**
 * The read ledger: what the agent read of each file in one job, which the
 * quotes of its edits to other files must come from (change-plan.ts).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mergeLineRange, ReadLedger, sha256Of, type ReadOrigin } from '../../server/src/agent/read-ledger.js';

const receiptTs = `import { cartTotal } from './cart';

export function receiptLine(prices: number[]): string {
  return \`Total: \${cartTotal(prices).toFixed(2)}\`;
}
`;

const onDisk = (text: string, realPath = '/work/shop/src/receipt.ts'): ReadOrigin => ({ kind: 'disk', realPath, lexicalPath: realPath, sha256: sha256Of(text) });
const inEditor = (version: number, overrides: Partial<{ uri: string; openId: number; epoch: number }> = {}): ReadOrigin => ({
  kind: 'editor',
  uri: overrides.uri ?? 'file:///work/shop/src/receipt.ts',
  version,
  openId: overrides.openId ?? 1,
  epoch: overrides.epoch ?? 0,
});

describe('mergeLineRange', () => {
  it('keeps ranges sorted and apart, and merges what overlaps or touches', () => {
    expect(mergeLineRange([], 10, 20)).toEqual([[10, 20]]);
    expect(mergeLineRange([[10, 20]], 1, 5)).toEqual([
      [1, 5],
      [10, 20],
    ]);
    expect(mergeLineRange([[10, 20]], 30, 40)).toEqual([
      [10, 20],
      [30, 40],
    ]);
    // Touching: line 21 follows 20.
    expect(mergeLineRange([[10, 20]], 21, 25)).toEqual([[10, 25]]);
    // One apart is not touching: line 21 was never shown.
    expect(mergeLineRange([[10, 20]], 22, 25)).toEqual([
      [10, 20],
      [22, 25],
    ]);
    expect(mergeLineRange([[10, 20]], 15, 18)).toEqual([[10, 20]]);
    expect(mergeLineRange([[10, 20]], 5, 12)).toEqual([[5, 20]]);
    expect(mergeLineRange([[1, 3], [10, 20]], 2, 12)).toEqual([[1, 20]]);
  });

  it('does not change the ranges it was given', () => {
    const ranges: Array<[number, number]> = [[10, 20]];
    mergeLineRange(ranges, 21, 30);
    expect(ranges).toEqual([[10, 20]]);
  });
});

describe('ReadLedger', () => {
  it('adds the lines of a second read of the same file on disk', () => {
    const ledger = new ReadLedger();
    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs), 1, 2);
    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs), 3, 5);

    expect(ledger.get('src/receipt.ts')).toEqual({ displayPath: 'src/receipt.ts', text: receiptTs, origin: onDisk(receiptTs), shownLines: [[1, 5]] });
  });

  it('starts over when the file on disk changed between reads: quotes must come from the text read last', () => {
    const ledger = new ReadLedger();
    const changed = receiptTs.replace('Total', 'Sum');
    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs), 1, 2);
    ledger.record('src/receipt.ts', changed, onDisk(changed), 4, 4);

    expect(ledger.get('src/receipt.ts')).toMatchObject({ text: changed, shownLines: [[4, 4]] });
  });

  it('starts over for the same text at another real path (a link replaced between reads)', () => {
    const ledger = new ReadLedger();
    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs), 1, 2);
    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs, '/work/shop/src/old-receipt.ts'), 4, 4);

    expect(ledger.get('src/receipt.ts')?.shownLines).toEqual([[4, 4]]);
  });

  it.each([
    ['a later version', inEditor(8)],
    ['another document', inEditor(7, { uri: 'file:///work/shop/src/cart.ts' })],
    ['the document closed and opened again', inEditor(7, { openId: 2 })],
    ['a new epoch of the same open', inEditor(7, { epoch: 1 })],
  ])('starts over for an editor document read again at %s', (_what, later) => {
    const ledger = new ReadLedger();
    ledger.record('src/receipt.ts', receiptTs, inEditor(7), 1, 2);
    ledger.record('src/receipt.ts', receiptTs, later, 4, 4);

    expect(ledger.get('src/receipt.ts')).toMatchObject({ origin: later, shownLines: [[4, 4]] });
  });

  it('adds the lines of the same editor version read twice, and starts over between the editor and disk', () => {
    const ledger = new ReadLedger();
    ledger.record('src/receipt.ts', receiptTs, inEditor(7), 1, 2);
    ledger.record('src/receipt.ts', receiptTs, inEditor(7), 3, 3);
    expect(ledger.get('src/receipt.ts')?.shownLines).toEqual([[1, 3]]);

    ledger.record('src/receipt.ts', receiptTs, onDisk(receiptTs), 5, 5);
    expect(ledger.get('src/receipt.ts')?.shownLines).toEqual([[5, 5]]);
    ledger.record('src/receipt.ts', receiptTs, inEditor(7), 1, 1);
    expect(ledger.get('src/receipt.ts')?.shownLines).toEqual([[1, 1]]);
  });

  it('forgets the least recently read file first once the texts pass its bound, an empty file counting too', () => {
    const ledger = new ReadLedger(20);
    ledger.record('a.ts', 'x'.repeat(9), onDisk('x'.repeat(9), '/w/a.ts'), 1, 1);
    ledger.record('b.ts', 'y'.repeat(9), onDisk('y'.repeat(9), '/w/b.ts'), 1, 1);
    expect(ledger.get('a.ts')).toBeDefined();
    // 10 + 10 = 20 fits; a third file of any size pushes out the least recently used (b: a was just read).
    ledger.record('empty.ts', '', onDisk('', '/w/empty.ts'), 1, 1);

    expect(ledger.get('b.ts')).toBeUndefined();
    expect(ledger.get('a.ts')?.text).toBe('x'.repeat(9));
    expect(ledger.get('empty.ts')?.text).toBe('');
  });

  it('hashes text as UTF-8 SHA-256, the hash a file on disk is compared by', () => {
    expect(sha256Of('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // "é" as the two UTF-8 bytes a file holds, not one Latin-1 byte.
    expect(sha256Of('\u00e9')).toBe(createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('hex'));
  });
});
