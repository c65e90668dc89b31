import { describe, expect, it } from 'vitest';
import type { Logger } from '../../server/src/logger.js';
import { createMemoryReleaser } from '../../server/src/memory-release.js';

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (message: string): void => {
    lines.push(message);
  };
  return { logger: { error: record, warn: record, info: record, debug: record }, lines };
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('memory releaser', () => {
  it('runs one full collection once enough text was discarded and things went quiet', async () => {
    const { logger, lines } = recordingLogger();
    const releaser = createMemoryReleaser({ logger, thresholdChars: 1_000, delayMs: 40 });

    releaser.textDiscarded(999);
    await wait(80);
    expect(lines).toEqual([]);

    // A burst of edits: each one pushes the collection back, so it runs once, after the burst.
    for (let keystroke = 0; keystroke < 6; keystroke++) {
      releaser.textDiscarded(500);
      await wait(15);
    }
    expect(lines).toEqual([]);
    await wait(100);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Ran a full collection after discarding document text \(\d+ ms\)\.$/);

    // The count starts over after a collection.
    releaser.textDiscarded(999);
    await wait(80);
    expect(lines).toHaveLength(1);
    // The flag was only on while gc was fetched: the process's global never gets it.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it('forgets a pending collection when disposed', async () => {
    const { logger, lines } = recordingLogger();
    const releaser = createMemoryReleaser({ logger, thresholdChars: 1, delayMs: 20 });
    releaser.textDiscarded(10);
    releaser.dispose();
    await wait(60);
    expect(lines).toEqual([]);
  });
});
