import { describe, expect, it } from 'vitest';
import { CheckOutput, maxFailureLines, maxKeptLineChars, tailBytes } from '../../server/src/agent/check-output.js';

const encoder = new TextEncoder();

function outputOf(...chunks: string[]): CheckOutput {
  const output = new CheckOutput();
  for (const chunk of chunks) output.push(encoder.encode(chunk));
  output.end();
  return output;
}

/** What vitest prints for one failing test among many passing ones. */
function vitestRun(passing: number): string {
  const lines = [' RUN  v4.1.12 /home/me/shop', ''];
  for (let i = 0; i < passing; i++) lines.push(` ✓ test/cart-${i}.test.ts > adds item ${i} 1ms`);
  lines.splice(200, 0, ' FAIL  test/cart.test.ts > cartTotal > adds the prices', 'AssertionError: expected 2 to be 3 // Object.is equality');
  lines.push('', ' Test Files  1 failed | 399 passed (400)', '      Tests  1 failed | 2999 passed (3000)');
  return `${lines.join('\n')}\n`;
}

describe('the output of a check, as the model reads it', () => {
  it('puts the failing test and its assertion first, however far above the end they were printed', () => {
    const text = outputOf(vitestRun(3_000)).render(2_000);
    expect(text.length).toBeLessThanOrEqual(2_000);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Lines that look like failures/);
    expect(lines[1]).toBe(' FAIL  test/cart.test.ts > cartTotal > adds the prices');
    expect(lines[2]).toBe('AssertionError: expected 2 to be 3 // Object.is equality');
    // Then the end of the run, with its totals.
    expect(text).toMatch(/Last \d+ lines \(\d+ before them not shown\):/);
    expect(lines.at(-1)).toBe('      Tests  1 failed | 2999 passed (3000)');
  });

  it('shows a short output whole, in order, under "Output:"', () => {
    const text = outputOf('> shop@1.0.0 test\n', '> node test/check.js\n\nall 3 checks passed\n').render(6_000);
    expect(text).toBe(['Output:', '> shop@1.0.0 test', '> node test/check.js', '', 'all 3 checks passed'].join('\n'));
  });

  it('says so when there was no output at all', () => {
    expect(outputOf().render(500)).toBe('(no output)');
  });

  it('joins lines split across chunks, strips colour codes, and keeps the last state of a line rewritten with \\r', () => {
    const output = outputOf('\u001b[31mFA', 'IL\u001b[39m src/a.test.ts\n', 'progress 10%\rprogress 100%\n', 'no newline at the end');
    expect(output.firstFailure()).toBe('FAIL src/a.test.ts');
    expect(output.render(1_000)).toBe(['Lines that look like failures (1):', 'FAIL src/a.test.ts', 'Output:', 'FAIL src/a.test.ts', 'progress 100%', 'no newline at the end'].join('\n'));
  });

  it('cuts a very long line (a minified bundle in a stack trace) to a bounded length', () => {
    const output = outputOf(`error: ${'x'.repeat(100_000)}\n`);
    expect(output.firstFailure()).toHaveLength(maxKeptLineChars + 1);
    expect(output.firstFailure()?.endsWith('…')).toBe(true);
  });

  it('holds a bounded amount however much the command prints, and counts every byte', () => {
    const output = new CheckOutput();
    const noisy = encoder.encode(`${'error: the same thing again\n'.repeat(1_000)}${'.'.repeat(70)}\n`.repeat(50));
    for (let i = 0; i < 8; i++) output.push(noisy);
    output.end();
    expect(output.bytes).toBe(noisy.byteLength * 8);
    const kept = (output as unknown as { tail: string[]; failures: string[] }).tail.join('\n').length;
    expect(kept).toBeLessThanOrEqual(tailBytes * 2);
    expect((output as unknown as { failures: string[] }).failures).toHaveLength(maxFailureLines);
    expect(output.render(3_000)).toMatch(/^Lines that look like failures \(1 shown of 400000, repeats left out\):\nerror: the same thing again\nLast \d+ lines/);
  });
});
