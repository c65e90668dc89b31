/**
 * The Emacs client (clients/emacs/efrit-lsp.el) in a real, headless Emacs
 * with Eglot, against the real server bundle and the fake Messages API:
 * a code action picked from Eglot's own menu, a two-turn streamed chat, do,
 * explain, cancelling a slow chat, and the server's copy of the buffer
 * checked against the buffer after every step (test/clients/emacs/efrit-test.el);
 * and ghost text from efrit-lsp-ghost-mode: shown, typed ahead, cleared,
 * dropped when stale, accepted with TAB (test/clients/emacs/efrit-ghost-test.el).
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { namedGates, never, type NamedGates } from '../support/gate.js';
import { editReply } from '../support/harness.js';
import { shouldRunEditorTests } from './editors.js';
import { emacsClientDir as clientDir, emacsTestBed, run, runEmacsScenario } from './emacs-runner.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const testScript = join(repo, 'test/clients/emacs/efrit-test.el');
const elpa = '/usr/share/emacs/site-lisp/elpa';

const runEmacs = shouldRunEditorTests('emacs');

const cartJs = `// cart.js — the shopping cart behind the checkout page.
'use strict';

const TAX_RATE = 0.2;

function subtotal(items) {
  let sum = 0;
  for (const item of items) {
    sum += item.price * item.quantity;
  }
  return sum;
}

function total(items, coupon) {
  const base = subtotal(items);
  const discount = coupon ? (base * coupon.percent) / 100 : 0;
  return (base - discount) * (1 + TAX_RATE);
}

module.exports = { subtotal, total };
`;

const docComment = `/**
 * Sums price × quantity over the cart's items.
 * @param {{price: number, quantity: number}[]} items
 * @returns {number}
 */
`;

type Block = { type: string; text?: string };
type Message = { role: string; content: string | Block[] };

const textOf = (message: Message | undefined): string =>
  message === undefined ? '' : typeof message.content === 'string' ? message.content : message.content.map((b) => b.text ?? '').join('\n');

const lastUserText = (request: RecordedRequest): string => {
  const messages = (request.body.messages ?? []) as Message[];
  return textOf([...messages].reverse().find((m) => m.role === 'user'));
};

/** A streamed text reply's events before its second delta: message_start, content_block_start, ping, the first text_delta. */
const afterFirstDelta = 4;

/**
 * What the scripted model says, by what it was asked. Where the script must
 * see a state before the answer may go on, the reply is held until the
 * script signals it (`efrit-test-signal` in the .el script).
 */
function respond(request: RecordedRequest, signals: NamedGates): FakeReply {
  const asked = lastUserText(request);
  if (asked.includes('Add documentation comments')) {
    return editReply([{ old_text: 'function subtotal(items) {', new_text: `${docComment}function subtotal(items) {` }], 'Documented subtotal.');
  }
  if (asked.includes('CHAT-1')) {
    // The rest waits until the script has seen the first part while the chat was pending.
    const rest = signals.opened('chat-1-partial');
    return { text: ['`total` takes the subtotal, ', 'subtracts the coupon discount ', 'and adds tax.'], hold: { until: rest, afterEvents: afterFirstDelta } };
  }
  if (asked.includes('CHAT-2')) return { text: ['No: it returns ', 'the unrounded amount.'] };
  // This chat and the explanation below stream together: each goes on once the script has seen both begin.
  if (asked.includes('CHAT-3')) return { text: ['Yes: it reads ', 'its argument ', 'and changes nothing.'], hold: { until: signals.opened('both-streaming'), afterEvents: afterFirstDelta } };
  if (asked.includes('DO-ROUND')) {
    // Answered once the user's typing meanwhile has reached the server, so the edit must be rebased onto it.
    return editReply(
      [{ old_text: '  return (base - discount) * (1 + TAX_RATE);', new_text: '  return Math.round((base - discount) * (1 + TAX_RATE) * 100) / 100;' }],
      'Rounded the total to cents.',
      { hold: { until: signals.opened('typed-during-do') } },
    );
  }
  if (asked.includes('DO-BAD')) return editReply([{ old_text: 'function checkout(cart) {', new_text: 'function checkout(cart, user) {' }]);
  if (asked.includes('Explain what the selected code does')) {
    return { text: ['`subtotal` adds up price × quantity ', 'for every item ', 'in the cart.'], hold: { until: signals.opened('both-streaming'), afterEvents: afterFirstDelta } };
  }
  // Never answered: the user cancels it.
  if (asked.includes('SLOW-CHAT')) return { text: 'This answer comes far too late.', hold: { until: never } };
  return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
}

describe.skipIf(!runEmacs)('Emacs client (eglot, efrit-lsp.el)', () => {
  const signals = namedGates();
  const bed = emacsTestBed('emacs', (request) => respond(request, signals));

  it('byte-compiles without warnings', async () => {
    const { work } = bed;
    // Compiled in a copy, so no .elc lands in the tree.
    const dir = join(work, 'compile');
    mkdirSync(dir);
    copyFileSync(join(clientDir, 'efrit-lsp.el'), join(dir, 'efrit-lsp.el'));
    const result = await run(
      'emacs',
      [
        '--batch',
        '-Q',
        '--eval',
        `(progn (require 'package) (setq package-directory-list '("${elpa}")) (package-initialize))`,
        '-L',
        dir,
        '--eval',
        '(setq byte-compile-error-on-warn t)',
        '-f',
        'batch-byte-compile',
        join(dir, 'efrit-lsp.el'),
      ],
      { timeoutMs: 20_000 },
    );
    expect(result.stderr).not.toMatch(/Warning|Error/);
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, 'efrit-lsp.elc'))).toBe(true);
  });

  it('drives the server from Eglot: code action, streamed chat, do, explain, cancel, sync', async () => {
    const { fake, work } = bed;
    const project = join(work, 'shop');
    mkdirSync(join(project, '.git'), { recursive: true }); // a VC root: Eglot's project is the folder
    mkdirSync(join(project, 'src'));
    const file = join(project, 'src', 'cart.js');
    writeFileSync(file, cartJs);

    const { emitted, diagnostics, passed } = await runEmacsScenario({ script: testScript, project, work, apiUrl: fake.url, file, timeoutMs: 40_000, signals });
    expect(passed, diagnostics()).toEqual({ failure: undefined, code: 0, ok: true });

    // Setup and connection.
    expect(emitted.get('REGISTERED')).toBe(true);
    expect(emitted.get('NOT-CONNECTED')).toMatch(/not connected — M-x eglot first/);
    expect(emitted.get('CONNECTED')).toMatchObject({ mode: 'js-mode', server: 'efrit-lsp' });
    expect(String((emitted.get('CONNECTED') as { project: string }).project)).toMatch(/shop\/$/); // the VC root
    expect(emitted.get('MODEL')).toBe('claude-emacs-test'); // initializationOptions arrived

    // The code action: listed in Eglot's menu, run without blocking, applied.
    expect(emitted.get('MENU')).toEqual(expect.arrayContaining(['Efrit: Explain', 'Efrit: Rewrite…', 'Efrit: Add documentation', 'Efrit: Write tests']));
    expect(emitted.get('ACTION-RETURNED-AT-ONCE')).toBe(true);
    expect(emitted.get('ACTION-APPLIED')).toBe(true);

    // Chat: streamed (partial text visible while the request was pending), two turns, one session.
    const partial = String(emitted.get('CHAT-1-PARTIAL'));
    expect(partial).toContain('takes the subtotal');
    expect(partial).not.toContain('and adds tax.');
    expect(emitted.get('CHAT-1-SESSION')).toMatch(/^session-/);
    expect(emitted.get('CHAT-SAME-SESSION')).toBe(true);
    const chatBuffer = String(emitted.get('CHAT-BUFFER'));
    expect(chatBuffer).toContain('You: CHAT-1 What does total do?');
    expect(chatBuffer).toMatch(/\(about cart\.js, lines \d+–\d+\)/);
    expect(chatBuffer).toContain('Efrit: `total` takes the subtotal, subtracts the coupon discount and adds tax.');
    // The second turn, sent from the chat buffer, is still about cart.js (at its point).
    expect(chatBuffer).toMatch(/You: CHAT-2 Does it round\?\n {2}\(about cart\.js, line \d+\)/);
    expect(chatBuffer).toContain('Efrit: No: it returns the unrounded amount.');

    // Do and explain.
    expect(emitted.get('DO-APPLIED')).toBe(true);
    const output = String(emitted.get('OUTPUT-BUFFER'));
    expect(output).toContain('Rounded the total to cents.');
    expect(output).toContain('[edit applied]');
    // The refused edit: said in the echo area and in the output buffer, nothing changed.
    expect(emitted.get('DO-BAD-MESSAGE')).toMatch(/^efrit: do: .+/);
    expect(output).toMatch(/── Do: DO-BAD change what is not there \(cart\.js, line 1\) ──\n\[The model's edit 1 quotes text that is not in src\/cart\.js; nothing was changed\. Try again\.\]\n/);
    expect(output).toMatch(/── Efrit: Add documentation \(cart\.js, lines 8–14\) ──/);
    expect(output).toContain('── Efrit: Explain (cart.js, lines 14–20) ──\n`subtotal` adds up price × quantity for every item in the cart.\n');

    // Explain and a new conversation at once: each text in its own buffer, none stray.
    expect(emitted.get('CONCURRENT-JOBS')).toBe(2);
    expect(emitted.get('CHAT-3-SESSION')).toMatch(/^session-/);
    expect(emitted.get('CHAT-3-SESSION')).not.toBe(emitted.get('CHAT-1-SESSION'));
    expect(output).not.toContain('Efrit job');
    expect(output).not.toContain('changes nothing');

    // Cancel: the slow chat ended, marked cancelled; nothing left running.
    // The request is in flight; the job id is known once the server's first note about it arrived
    // (which now names the session), else $/cancelRequest alone does it.
    const [slowJobId, slowRequestId] = emitted.get('SLOW-CHAT-IDS') as [string | null, number];
    expect(slowJobId === null || /^job-\d+$/.test(slowJobId)).toBe(true);
    expect(slowRequestId).toEqual(expect.any(Number));
    const afterCancel = String(emitted.get('CHAT-BUFFER-AFTER-CANCEL'));
    expect(afterCancel).toContain('── New conversation ──\n\nYou: CHAT-3 Is subtotal pure?\n  (about cart.js, line 14)\n\nEfrit: Yes: it reads its argument and changes nothing.\n\n');
    expect(afterCancel).toMatch(/── New conversation ──\n\nYou: SLOW-CHAT[^\n]*\n[^]*Efrit: \[cancelled\]\n\n$/);
    expect(String(emitted.get('CHAT-BUFFER-AFTER-CANCEL'))).not.toContain('far too late');
    expect(emitted.get('RUNNING-AFTER-CANCEL')).toBe(0);

    // Sync after every step, and the final text.
    for (const step of ['AFTER-TYPING', 'AFTER-ACTION', 'DURING-DO', 'AFTER-DO', 'FINAL']) expect(typeof emitted.get(`SYNC-${step}`)).toBe('number');
    expect(emitted.get('CHECK-SYNC-COMMAND')).toBe(true);
    const finalText = String(emitted.get('FINAL-BUFFER'));
    expect(finalText).toContain("const CURRENCY = 'EUR';");
    expect(finalText).toContain("// Prices are in cents.\n'use strict';\n"); // typed while the do ran
    expect(finalText).toContain(`${docComment}function subtotal(items) {`);
    expect(finalText).toContain('  return Math.round((base - discount) * (1 + TAX_RATE) * 100) / 100;');
    expect(finalText).toContain('const TAX_RATE = 0.25;');
    expect(finalText.endsWith('// end of cart.js\n')).toBe(true);

    // What the fake API saw: six model calls, all with the key, the slow one aborted.
    const requests = fake.requests;
    expect(requests.map(lastUserText).filter((t) => !/CHAT-[123]|DO-ROUND|DO-BAD|SLOW-CHAT|Add documentation|Explain what/.test(t))).toEqual([]);
    expect(requests).toHaveLength(8);
    expect(requests.every((r) => r.apiKeyMatched)).toBe(true);
    expect(requests.every((r) => r.body.model === 'claude-emacs-test')).toBe(true);
    const chat2 = requests.find((r) => lastUserText(r).includes('CHAT-2'));
    expect((chat2?.body.messages as Message[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(textOf((chat2?.body.messages as Message[])[0])).toContain('function total(items, coupon)');
    expect(lastUserText(chat2 as RecordedRequest)).toContain('cart.js');
    const slow = requests.find((r) => lastUserText(r).includes('SLOW-CHAT'));
    expect(slow?.outcome).toBe('aborted-by-client');
    const usage = emitted.get('USAGE') as { requests: number };
    expect(usage.requests).toBe(7);
  }, 60_000);
});

const streamsScript = join(repo, 'test/clients/emacs/efrit-streams-test.el');

const lineOf = (needle: string): number => cartJs.slice(0, cartJs.indexOf(needle)).split('\n').length;
const asksAbout = (request: RecordedRequest, needle: string): boolean => lastUserText(request).includes(`selection at ${lineOf(needle)}:1-`);
const subtotalText = ['`subtotal` adds ', 'price × quantity.'];
const totalText = ['`total` takes off ', 'the coupon and adds tax.'];

describe.skipIf(!runEmacs)('Emacs client: streams tied to their requests, cancellations the server makes', () => {
  const bed = emacsTestBed('emacs-streams', (request) => {
    // One model call at a time: the queue, not timing, orders the two explanations.
    if (asksAbout(request, 'function subtotal')) return { text: subtotalText };
    if (asksAbout(request, 'function total')) return { text: totalText };
    // Holds the one slot until the user cancels it.
    if (lastUserText(request).includes('STREAMS-CHAT')) return { text: 'Too late.', hold: { until: never } };
    if (asksAbout(request, 'const TAX_RATE')) {
      // The older explanation is held until the server hangs up on it (the newer one replaces it).
      if (!lastUserText(request).includes('// end of cart.js')) return { text: 'Too late.', hold: { until: never } };
      return { text: 'The tax rate, as a fraction.' };
    }
    return { text: `UNEXPECTED REQUEST: ${lastUserText(request).slice(0, 200)}` };
  });

  it('puts each request’s text in its own place from the first note on, whatever order the notes come in, and says when the server replaced one', async () => {
    const { fake, work } = bed;
    const project = join(work, 'shop');
    mkdirSync(join(project, '.git'), { recursive: true });
    mkdirSync(join(project, 'src'));
    const file = join(project, 'src', 'cart.js');
    writeFileSync(file, cartJs);

    const { emitted, diagnostics, passed } = await runEmacsScenario({ script: streamsScript, project, work, apiUrl: fake.url, file, timeoutMs: 40_000 });
    expect(passed, diagnostics()).toEqual({ failure: undefined, code: 0, ok: true });

    // Every note of the chat and the two explanations named its request's stream, the first one included.
    const notes = emitted.get('NOTES') as [string, string | null, string][];
    expect(notes.length).toBeGreaterThanOrEqual(8);
    expect(notes.every(([, stream]) => typeof stream === 'string' && stream.startsWith('emacs-'))).toBe(true);
    expect(new Set(notes.map(([, stream]) => stream)).size).toBe(3);
    expect(String(emitted.get('CHAT-BUFFER'))).toMatch(/You: STREAMS-CHAT Which function rounds\?\n[^]*\nEfrit: \[cancelled\]\n\n$/);
    // The second explanation heard first ("queued (1 ahead)"), while the first waited without a word.
    // Stream ids are numbered in the order the requests were sent.
    const sent = [...new Set(notes.map(([, stream]) => String(stream)))].sort((a, b) => Number(a.split('-').at(-1)) - Number(b.split('-').at(-1)));
    const [chatStream, firstStream, secondStream] = sent;
    expect(notes.findIndex(([, stream]) => stream === secondStream)).toBeLessThan(notes.findIndex(([, stream]) => stream === firstStream));
    expect(chatStream).toBe(notes[0]?.[1]);
    // While the texts streamed, each stayed in its own section: the second's never above the second's heading.
    const secondHeading = `── Efrit: Explain (cart.js, lines ${lineOf('function total')}–`;
    const snapshots = emitted.get('SNAPSHOTS') as string[];
    expect(snapshots.some((s) => s.includes(subtotalText.join('')) && !s.includes(totalText[0] ?? ''))).toBe(true);
    for (const snapshot of snapshots) {
      const split = snapshot.indexOf(secondHeading);
      expect(split, snapshot).toBeGreaterThan(0);
      expect(snapshot.slice(0, split), snapshot).not.toContain(totalText[0]);
      expect(snapshot.slice(split), snapshot).not.toContain(subtotalText[0]);
      expect(snapshot, snapshot).not.toContain('Efrit job');
    }
    const output = String(emitted.get('OUTPUT-AFTER-BOTH'));
    expect(output).toContain(`── Efrit: Explain (cart.js, lines ${lineOf('function subtotal')}–`);
    expect(output).toMatch(new RegExp(`lines ${lineOf('function subtotal')}–\\d+\\) ──\\n${subtotalText.join('')}\\n`));
    expect(output).toMatch(new RegExp(`lines ${lineOf('function total')}–\\d+\\) ──\\n${totalText.join('').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));

    // The older explanation of the same lines: ended by the server, and said so where it was and in the echo area.
    const after = String(emitted.get('OUTPUT-AFTER-SUPERSEDED'));
    expect(after).toMatch(/── Efrit: Explain \(cart\.js, line 4\) ──\n\[the server cancelled it: Superseded by a newer request for the same thing\.\]\n\n── Efrit: Explain \(cart\.js, line 4\) ──\nThe tax rate, as a fraction\.\n/);
    expect(emitted.get('MESSAGES')).toContain('efrit: Explain: the server cancelled it: Superseded by a newer request for the same thing.');
    expect(fake.requests.filter((r) => asksAbout(r, 'const TAX_RATE')).map((r) => r.outcome)).toEqual(['aborted-by-client', 'completed']);
  }, 60_000);
});

const pricingPy = `"""Prices for the checkout page."""

from dataclasses import dataclass

TAX_RATE = 0.2


@dataclass
class Order:
    unit_price: float
    quantity: int


def order_total(order: Order) -> float:
    """The order's total, before tax."""
    return 


def with_tax(amount: float) -> float:
    return 
`;

/** The fast model, by the function the cursor is in: the last \`def\` before </prefix>. */
function respondGhost(request: RecordedRequest, signals: NamedGates): FakeReply {
  if (!JSON.stringify(request.body.system ?? '').includes('code completion engine')) return { text: 'UNEXPECTED: not a completion request' };
  const asked = lastUserText(request);
  const prefix = asked.slice(0, asked.indexOf('</prefix>'));
  const inFunction = /def (\w+)/.exec(prefix.slice(prefix.lastIndexOf('def ')))?.[1];
  // Fenced, and echoing the line: the server cleans both off.
  if (inFunction === 'order_total') return { text: '```python\nreturn order.unit_price * order.quantity\n```' };
  // Answered only once point has moved away from where it was asked, so the answer is stale when it comes.
  if (inFunction === 'with_tax') return { text: 'amount * (1 + TAX_RATE)', hold: { until: signals.opened('moved-away') } };
  return { text: '' };
}

describe.skipIf(!runEmacs)('Emacs client: ghost text (efrit-lsp-ghost-mode)', () => {
  const signals = namedGates();
  const bed = emacsTestBed('emacs-ghost', (request) => respondGhost(request, signals));

  it('shows a suggestion at point, keeps it while its beginning is typed, clears it otherwise, and accepts it with TAB', async () => {
    const { fake, work } = bed;
    const project = join(work, 'shop');
    mkdirSync(join(project, '.git'), { recursive: true });
    const file = join(project, 'pricing.py');
    writeFileSync(file, pricingPy);

    const { emitted, diagnostics, passed } = await runEmacsScenario({
      script: join(repo, 'test/clients/emacs/efrit-ghost-test.el'),
      project,
      work,
      apiUrl: fake.url,
      file,
      timeoutMs: 40_000,
      signals,
    });
    expect(passed, diagnostics()).toEqual({ failure: undefined, code: 0, ok: true });
    expect(emitted.get('CONNECTED')).toEqual({ mode: 'python-mode', server: 'efrit-lsp' });
    expect(emitted.get('GHOST-MODE')).toBe(true);

    // TAB is the mode's usual command until a suggestion shows.
    expect(emitted.get('TAB-WITHOUT-SUGGESTION')).toBe('indent-for-tab-command');

    // The explicit request: the cleaned suggestion, at point, point before it, the buffer untouched.
    const suggestion = 'order.unit_price * order.quantity';
    const ghost = (text: string) => ({ text, atPoint: true, cursor: true, face: 'efrit-lsp-ghost', api: text, tab: 'efrit-lsp-ghost-accept' });
    expect(emitted.get('SHOWN')).toEqual(ghost(suggestion));
    expect(emitted.get('SHOWN-POINT-UNMOVED')).toBe(true);
    expect(emitted.get('SHOWN-BUFFER-UNCHANGED')).toBe(true);

    // A character that does not match clears it, TAB is TAB again, and the idle request is armed.
    expect(emitted.get('AFTER-MISMATCH')).toBeNull();
    expect(emitted.get('TAB-AFTER-MISMATCH')).toBe('indent-for-tab-command');
    expect(emitted.get('TIMER-ARMED')).toBe(true);

    // The automatic request at the same spot (answered from the server's cache).
    expect(emitted.get('AUTOMATIC')).toEqual(ghost(suggestion));

    // Typing its beginning leaves the rest; moving point clears it, and coming back does not bring it back.
    expect(emitted.get('TYPED-AHEAD')).toEqual(ghost('der.unit_price * order.quantity'));
    expect(emitted.get('AFTER-MOVE')).toBeNull();
    expect(emitted.get('AFTER-MOVE-BACK')).toBeNull();

    // Asked again: the rest; TAB inserts it, the overlay goes, the server's copy follows.
    expect(emitted.get('REST')).toEqual(ghost('der.unit_price * order.quantity'));
    expect(emitted.get('AFTER-ACCEPT')).toBeNull();
    expect(emitted.get('ACCEPTED-LINE')).toBe('    return order.unit_price * order.quantity');
    expect(emitted.get('POINT-AFTER-ACCEPT-AT-EOL')).toBe(true);
    expect(typeof emitted.get('SYNC-AFTER-ACCEPT')).toBe('number');

    // An answer that arrived after point moved was dropped; asked again, it shows, and C-g dismisses it.
    expect(emitted.get('SLOW-PENDING')).toBe(true);
    expect(emitted.get('AFTER-STALE-ANSWER')).toBeNull();
    expect(emitted.get('WITH-TAX')).toEqual(ghost('amount * (1 + TAX_RATE)'));
    expect(emitted.get('AFTER-DISMISS')).toBeNull();
    expect(emitted.get('MODE-OFF-HOOK')).toBeNull();

    // The server: every suggestion shown, one accepted, two model calls (the rest came from its cache and the typed-ahead check).
    expect(typeof emitted.get('SYNC-FINAL')).toBe('number');
    expect(emitted.get('STATUS')).toMatchObject({ requests: 5, modelCalls: 2, shown: 5, accepted: 1 });
    expect(emitted.get('FINAL-BUFFER')).toBe(pricingPy.replace('    return \n\n', '    return order.unit_price * order.quantity\n\n'));
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.every((r) => r.apiKeyMatched)).toBe(true);
  }, 60_000);
});
