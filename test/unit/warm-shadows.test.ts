/**
 * Shadow documents kept open between checks: which shadow a check gets, what
 * the server is sent for it, and how they stay bounded in count and time.
 * (test/integration/wrapped-server-link.test.ts drives them through the
 * proxy; the real servers are in proposal-check.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { NotificationMessage } from 'vscode-languageserver/node';
import { WarmShadows } from '../../server/src/proxy/warm-shadows.js';
import { ManualClock } from '../support/manual-clock.js';

function pool(options: { maxOpen?: number; running?: () => boolean; idleCloseMs?: number } = {}) {
  const sent: NotificationMessage[] = [];
  const clock = new ManualClock();
  let next = 0;
  const shadows = new WarmShadows({
    send: (message) => {
      if (options.running?.() === false) return false;
      sent.push(message);
      return true;
    },
    newShadowUri: (uri) => uri.replace(/\.ts$/, `.efrit-check-${next++}.ts`),
    timers: clock,
    ...(options.idleCloseMs === undefined ? {} : { idleCloseMs: options.idleCloseMs }),
    ...(options.maxOpen === undefined ? {} : { maxOpen: options.maxOpen }),
  });
  const said = () => sent.splice(0).map((m) => `${m.method.replace('textDocument/', '')} ${(m.params as { textDocument: { uri: string } }).textDocument.uri.replace('file:///w/', '')}`);
  return { shadows, sent, said, clock };
}

const a = 'file:///w/a.ts';

describe('shadows kept open between checks', () => {
  it("opens a shadow once, then changes it to each new text with the next version, and sends nothing for the text it holds", () => {
    const { shadows, sent, said } = pool();
    shadows.lease(a, 'typescript', 'one')?.release(true);
    expect(sent[0]).toEqual({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///w/a.efrit-check-0.ts', languageId: 'typescript', version: 1, text: 'one' } } });
    said();
    shadows.lease(a, 'typescript', 'two')?.release(true);
    expect(sent[0]).toEqual({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///w/a.efrit-check-0.ts', version: 2 }, contentChanges: [{ text: 'two' }] } });
    said();
    const same = shadows.lease(a, 'typescript', 'two');
    expect(same?.uri).toBe('file:///w/a.efrit-check-0.ts');
    expect(said()).toEqual([]);
    const other = shadows.lease(a, 'typescript', 'three');
    same?.release(true);
    other?.release(true);
    said();
    // The shadow holding the text is taken, not the one used longer ago.
    expect(shadows.lease(a, 'typescript', 'three')?.uri).toBe('file:///w/a.efrit-check-1.ts');
    expect(shadows.lease(a, 'typescript', 'two')?.uri).toBe('file:///w/a.efrit-check-0.ts');
    expect(said()).toEqual([]);
    // Another language is another document, even at the same path.
    shadows.lease(a, 'javascript', 'two')?.release(true);
    expect(said()).toEqual(['didOpen a.efrit-check-2.ts']);
  });

  it('gives a leased shadow to no other check until it is released, once', () => {
    const { shadows, said } = pool();
    const first = shadows.lease(a, 'typescript', 'text');
    const second = shadows.lease(a, 'typescript', 'text');
    expect(second?.uri).not.toBe(first?.uri);
    expect(said()).toEqual(['didOpen a.efrit-check-0.ts', 'didOpen a.efrit-check-1.ts']);
    first?.release(true);
    first?.release(false);
    expect(said()).toEqual([]);
    expect(shadows.lease(a, 'typescript', 'text')?.uri).toBe(first?.uri);
  });

  it('closes a shadow whose check failed, one unused for the idle time (a minute unless told), and every one when told (a leased one when released)', async () => {
    const { shadows, said, clock } = pool();
    shadows.lease(a, 'typescript', 'failed')?.release(false);
    expect(said()).toEqual(['didOpen a.efrit-check-0.ts', 'didClose a.efrit-check-0.ts']);
    shadows.lease(a, 'typescript', 'idle')?.release(true);
    await clock.advance(59_999);
    const reused = shadows.lease(a, 'typescript', 'idle');
    reused?.release(true);
    // A use starts the idle time again.
    await clock.advance(59_999);
    expect(said()).toEqual(['didOpen a.efrit-check-1.ts']);
    await clock.advance(1);
    expect(said()).toEqual(['didClose a.efrit-check-1.ts']);
    expect(shadows.size).toBe(0);

    const busy = shadows.lease(a, 'typescript', 'busy');
    shadows.lease('file:///w/b.ts', 'typescript', 'idle')?.release(true);
    said();
    shadows.closeAll();
    expect(said()).toEqual(['didClose b.efrit-check-3.ts']);
    busy?.release(true);
    expect(said()).toEqual(['didClose a.efrit-check-2.ts']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps at most maxOpen open: the least recently used idle one gives way, and a lease beyond that closes on release', () => {
    const { shadows, said } = pool({ maxOpen: 2 });
    shadows.lease('file:///w/a.ts', 'typescript', 'x')?.release(true);
    shadows.lease('file:///w/b.ts', 'typescript', 'x')?.release(true);
    // a is used again: b is now the least recently used.
    shadows.lease('file:///w/a.ts', 'typescript', 'x')?.release(true);
    said();
    const c = shadows.lease('file:///w/c.ts', 'typescript', 'x');
    expect(said()).toEqual(['didClose b.efrit-check-1.ts', 'didOpen c.efrit-check-2.ts']);
    const a2 = shadows.lease('file:///w/a.ts', 'typescript', 'x');
    const d = shadows.lease('file:///w/d.ts', 'typescript', 'x');
    expect(said()).toEqual(['didOpen d.efrit-check-3.ts']);
    expect(shadows.size).toBe(3);
    d?.release(true);
    expect(said()).toEqual(['didClose d.efrit-check-3.ts']);
    c?.release(true);
    a2?.release(true);
    expect(shadows.size).toBe(2);
  });

  it('leases nothing while the server is not running, and forgets what died with it', async () => {
    let running = true;
    const { shadows, said, clock } = pool({ running: () => running });
    shadows.lease(a, 'typescript', 'one')?.release(true);
    said();
    running = false;
    expect(shadows.lease(a, 'typescript', 'two')).toBeUndefined();
    expect(shadows.size).toBe(0);
    expect(shadows.lease(a, 'typescript', 'two')).toBeUndefined();
    running = true;
    const held = shadows.lease(a, 'typescript', 'three');
    shadows.forget();
    held?.release(true);
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(60_000);
    // Only the open of the shadow leased before the server died (the failed open used up a number): no close, no idle timer left.
    expect(said()).toEqual(['didOpen a.efrit-check-2.ts']);
    expect(clock.pendingTimers()).toBe(0);
    expect(shadows.size).toBe(0);
  });
});
