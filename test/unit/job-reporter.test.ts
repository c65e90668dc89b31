/**
 * How a job's streamed text reaches the client: the first piece at once,
 * later ones coalesced for a few milliseconds after each send, and a key the
 * model quotes across pieces never. A real server connection talks to a real
 * client connection over the in-memory link; the coalescing timer is faked
 * and the clock injected, so nothing here waits on the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { createProtocolConnection, type ProtocolConnection } from 'vscode-languageserver-protocol/node';
import { LspJobReporter } from '../../server/src/features/job-reporter.js';
import { silentLogger } from '../../server/src/common/logger.js';
import type { StreamParams } from '../../server/src/protocol.js';
import { memoryLink } from '../../server/src/proxy/memory-transport.js';
import { SecretRedactor } from '../../server/src/common/redaction.js';

const key = 'sk-ant-test-0123456789abcdefghijklmnopqrstuvwxyz';

let client: ProtocolConnection;
let received: StreamParams[];
let clock: number;
let reporter: LspJobReporter;

beforeEach(() => {
  // Only the reporter's timer: the connections deliver through microtasks and setImmediate.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const [serverSide, clientSide] = memoryLink();
  const connection = createConnection(ProposedFeatures.all, serverSide.reader, serverSide.writer);
  connection.listen();
  client = createProtocolConnection(clientSide.reader, clientSide.writer);
  received = [];
  client.onNotification('efrit/stream', (params: StreamParams) => void received.push(params));
  client.listen();
  clock = 1000;
  const redactor = new SecretRedactor();
  redactor.add(key);
  reporter = new LspJobReporter(connection, () => false, redactor, silentLogger, () => clock);
  reporter.begin({ jobId: 'job-1', title: 'Chat' });
});

afterEach(() => {
  client.dispose();
  vi.useRealTimers();
});

/** Lets everything already sent arrive: a few turns of the event loop, no timers. */
async function delivered(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
}

const texts = (): string[] => received.filter((s) => s.kind === 'text').map((s) => s.text);

describe('LspJobReporter', () => {
  it('sends the first text of a job at once, then coalesces what follows for 15 ms after each send', async () => {
    reporter.text('job-1', 'Here is ');
    await delivered();
    expect(texts()).toEqual(['Here is ']);

    clock += 2;
    reporter.text('job-1', 'the fix: ');
    reporter.text('job-1', 'rename it.');
    await delivered();
    expect(texts()).toEqual(['Here is ']);
    vi.advanceTimersByTime(13);
    await delivered();
    expect(texts()).toEqual(['Here is ', 'the fix: rename it.']);

    // After a pause longer than the window, the next piece goes at once again.
    clock += 100;
    reporter.text('job-1', ' Done.');
    await delivered();
    expect(texts()).toEqual(['Here is ', 'the fix: rename it.', ' Done.']);
  });

  it('never sends a key the model quotes across pieces, and sends the rest', async () => {
    for (const piece of ['Your key is sk-ant-te', 'st-0123456789abcdefghijklmn', 'opqrstuvwxyz. Keep it safe.']) {
      reporter.text('job-1', piece);
      clock += 20;
      vi.advanceTimersByTime(20);
      await delivered();
    }
    reporter.end('job-1', { ok: true });
    await delivered();

    expect(texts().join('')).toBe('Your key is [redacted]. Keep it safe.');
    expect(received.at(-1)).toMatchObject({ kind: 'done' });
  });

  it("names the job on every note, with the document it works on, so a client can head a job no request of its named", async () => {
    reporter.begin({ jobId: 'job-2', title: 'Efrit: Explain', document: 'src/calc.ts' });
    reporter.note('job-2', 'status', 'asking the model');
    reporter.text('job-2', 'It adds.');
    reporter.end('job-2', { ok: true });
    await delivered();

    const notes = received.filter((note) => note.jobId === 'job-2');
    expect(notes.map((note) => note.kind)).toEqual(['status', 'text', 'done']);
    for (const note of notes) expect(note.title).toBe('Efrit: Explain · src/calc.ts');
    reporter.text('job-1', 'Hi.');
    await delivered();
    expect(received.at(-1)).toMatchObject({ jobId: 'job-1', title: 'Chat', text: 'Hi.' });
  });
});
