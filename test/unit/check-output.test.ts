import { describe, expect, it } from 'vitest';
import { CheckOutput, headLines, looksLikeFailure, maxFailureLines, maxKeptLineChars, tailBytes } from '../../server/src/agent/check-output.js';

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
    expect(text).toContain('      Tests  1 failed | 2999 passed (3000)\nFirst lines:\n RUN  v4.1.12 /home/me/shop\n');
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
    // And never less than the tail it promises.
    expect(kept).toBeGreaterThanOrEqual(tailBytes - 100);
    expect((output as unknown as { failures: string[] }).failures).toHaveLength(maxFailureLines);
    expect(output.render(3_000)).toMatch(/^Lines that look like failures \(1 of 400000 shown\):\nerror: the same thing again\nLast \d+ lines/);
  });

  it('reads Windows line ends, characters split across chunks, and links and colours as plain text', () => {
    const bytes = encoder.encode('ok one\r\n✗ two failed\r\n\u001b]8;;https://vitest.dev\u0007docs\u001b]8;;\u0007\r\n');
    const split = bytes.indexOf(0x9c); // inside the three bytes of ✗
    const output = new CheckOutput();
    output.push(bytes.slice(0, split));
    output.push(bytes.slice(split));
    output.end();
    expect(output.render(1_000)).toBe(['Lines that look like failures (1):', '✗ two failed', 'Output:', 'ok one', '✗ two failed', 'docs'].join('\n'));
  });

  it('keeps a line of exactly the kept length whole, and holds only the latest state of an endless progress line', () => {
    expect(outputOf(`${'e'.repeat(maxKeptLineChars - 6)} error\n`).firstFailure()).toBe(`${'e'.repeat(maxKeptLineChars - 6)} error`);
    const progress = new CheckOutput();
    for (let percent = 0; percent <= 100; percent++) progress.push(encoder.encode(`downloading ${String(percent).padStart(3)}% ${'#'.repeat(percent)}\r`));
    expect((progress as unknown as { pending: string }).pending.length).toBeLessThanOrEqual(maxKeptLineChars * 4);
    progress.push(encoder.encode('\ndone\n'));
    progress.end();
    expect(progress.render(1_000)).toBe(`Output:\ndownloading 100% ${'#'.repeat(100)}\ndone`);
  });

  it.each([
    ['FAIL  src/cart.test.ts > adds', true],
    ['Error: expected 3', true],
    ['npm ERR! code 1', true],
    ['not ok 3 - adds the prices', true],
    ['Traceback (most recent call last):', true],
    ['panic: assignment to entry in nil map', true],
    ["thread 'main' panicked at src/main.rs:2:5", true],
    ['AssertionError [ERR_ASSERTION]', true],
    ["src/a.ts(3,7): cannot find name 'sumCart'", true],
    ['✖ 2 problems', true],
    ['  ✓ adds the prices', false],
    ['Tests  3 passed (3)', false],
  ])('%s: looks like a failure? %s', (line, expected) => {
    expect(looksLikeFailure(line)).toBe(expected);
  });

  it('fits the whole output when it fits exactly, and not a line more', () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i} ok`);
    const body = lines.reduce((sum, line) => sum + line.length + 1, 0);
    expect(outputOf(`${lines.join('\n')}\n`).render(body + 60)).toBe(['Output:', ...lines].join('\n'));
    expect(outputOf(`${lines.join('\n')}\n`).render(body + 59)).toBe([`Last 9 lines (1 before them not shown):`, ...lines.slice(1)].join('\n'));
  });

  it('counts the failures section against the room left for the rest', () => {
    const lines = ['FAIL one', ...Array.from({ length: 10 }, (_, i) => `line ${i} ok`)];
    const failures = 'Lines that look like failures (1):\nFAIL one';
    const body = lines.reduce((sum, line) => sum + line.length + 1, 0);
    const text = outputOf(`${lines.join('\n')}\n`).render(failures.length + 1 + 60 + body - 2);
    expect(text).toBe([failures, 'Last 10 lines (1 before them not shown):', ...lines.slice(1)].join('\n'));
  });

  it('gives the failures at most half the room, the first ones first', () => {
    const failures = Array.from({ length: 100 }, (_, i) => `FAIL test ${String(i).padStart(3, '0')} of the cart suite`);
    const text = outputOf(`${failures.join('\n')}\nsummary: 100 failed\n`).render(1_000);
    const section = text.slice(0, text.indexOf('\nLast '));
    expect(section.length).toBeLessThanOrEqual(500);
    expect(section.split('\n').slice(0, 3)).toEqual(['Lines that look like failures (13 of 101 shown):', failures[0], failures[1]]);
  });

  it('shows the first lines too when the middle of a long output is cut', () => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `step ${String(i).padStart(4, '0')} done in 1 ms, nothing to report`);
    const text = outputOf(`${lines.join('\n')}\n`).render(2_000);
    const parts = text.split('\nFirst lines:\n');
    expect(parts[0]).toMatch(/^Last (\d+) lines \(\d+ before them not shown\):\n/);
    expect(parts[0]?.split('\n').at(-1)).toBe(lines.at(-1));
    expect(parts[1]?.split('\n')).toEqual(lines.slice(0, headLines));
  });

  it('keeps the end of the output right after it let older lines go', () => {
    const output = new CheckOutput();
    const line = `${'x'.repeat(98)}\n`;
    // Just past the point where the oldest half of the kept tail is let go.
    const lines = headLines + Math.floor((tailBytes * 2) / line.length) + 1;
    for (let i = 0; i < lines - 1; i++) output.push(encoder.encode(line));
    const last = `the last line ${'y'.repeat(84)}`;
    output.push(encoder.encode(`${last}\n`));
    output.end();
    const text = output.render(1_000);
    expect(text).toMatch(/^Last \d+ lines \(\d+ before them not shown\):\n/);
    expect(text.split('\nFirst lines:')[0]?.split('\n').at(-1)).toBe(last);
  });

  it('keeps the start of a very long line that arrives without its end, even when its last character is a \\r', () => {
    const output = new CheckOutput();
    output.push(encoder.encode(`error: ${'bundle.js '.repeat(400)}\r`));
    output.push(encoder.encode('\n'));
    output.end();
    expect(output.firstFailure()).toBe(`${`error: ${'bundle.js '.repeat(400)}`.slice(0, maxKeptLineChars)}…`);
  });
});
