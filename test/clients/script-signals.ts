/**
 * The one-way channel from an editor test script to this side: the script
 * writes `EFRIT_SIGNAL <name>` on a line of its stderr once it has seen a
 * state (a partial answer shown, a command sent), and the gate of that name
 * opens, so the fake Messages API can hold a reply until then instead of
 * for a latency guessed long enough. Lua: `support.signal(name)` in
 * test/clients/neovim/support.lua; Emacs: `efrit-test-signal` in
 * test/clients/emacs/efrit-test-support.el.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { NamedGates } from '../support/gate.js';

const signalLine = /^EFRIT_SIGNAL (\S+)\s*$/;

/** Opens the gate named by each signal line on `stderr`, as the lines arrive (a line may span chunks). */
export function openGatesOnSignals(stderr: Readable, gates: NamedGates): void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  stderr.on('data', (chunk: Buffer | string) => {
    const lines = (partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const name = signalLine.exec(line)?.[1];
      if (name !== undefined) gates.open(name);
    }
  });
}
