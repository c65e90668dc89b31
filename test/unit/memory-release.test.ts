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
  it('runs one full collection after a burst of large documents closes, and none for small ones', async () => {
    const { logger, lines } = recordingLogger();
    const releaser = createMemoryReleaser({ logger, thresholdChars: 1_000, delayMs: 20 });

    releaser.documentClosed(999);
    await wait(60);
    expect(lines).toEqual([]);

    releaser.documentClosed(5_000);
    releaser.documentClosed(50_000);
    await wait(80);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Ran a full collection after a large document closed \(\d+ ms\)\.$/);
    // The flag was only on while gc was fetched: the process's global never gets it.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it('forgets a pending collection when disposed', async () => {
    const { logger, lines } = recordingLogger();
    const releaser = createMemoryReleaser({ logger, thresholdChars: 1, delayMs: 20 });
    releaser.documentClosed(10);
    releaser.dispose();
    await wait(60);
    expect(lines).toEqual([]);
  });
});
