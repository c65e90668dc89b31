/**
 * The Emacs client (clients/emacs/efrit-lsp.el) in a real, headless Emacs
 * with Eglot, against the real server bundle and the fake Messages API,
 * one ert test per behaviour (test/clients/emacs/efrit-test.el), each a
 * vitest case: a code action picked from Eglot's own menu, a two-turn
 * streamed chat, the chat header and echo area after a reply, do, explain,
 * cancelling a slow chat, and the server's copy of the buffer checked
 * against the buffer; streams tied to their requests
 * (efrit-streams-test.el); ghost text from efrit-lsp-ghost-mode
 * (efrit-ghost-test.el); efrit-lsp-status after a session on a Claude model
 * and an openai: fast model (efrit-providers-test.el).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { namedGates, never, type NamedGates } from '../support/gate.js';
import { editReply } from '../support/harness.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai/server.js';
import { testOpenAIKey } from '../support/openai-harness.js';
import type { ProviderUsageSummary } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from './editors.js';
import { emacsTestBed, ertSuite } from './emacs-runner.js';
import { cartProject, cartJs, docComment, lastUserText, textOf, type Message } from './emacs-fixtures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const testScript = join(repo, 'test/clients/emacs/efrit-test.el');

const runEmacs = shouldRunEditorTests('emacs');

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
  if (asked.includes('CHAT-HEADER')) return { text: ['Yes, ', 'the first turn.'] };
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
  // The refused edit goes back to the model, which proposes it again: the agent stops there.
  if (asked.includes('DO-BAD') || JSON.stringify(request.body.messages.at(-1)).includes('quotes text that is not in src/do-bad.js')) {
    return editReply([{ old_text: 'function checkout(cart) {', new_text: 'function checkout(cart, user) {' }]);
  }
  if (asked.includes('Explain what the selected code does')) {
    return { text: ['`subtotal` adds up price × quantity ', 'for every item ', 'in the cart.'], hold: { until: signals.opened('both-streaming'), afterEvents: afterFirstDelta } };
  }
  // Never finished: its first words show the request reached the model, then the user cancels it.
  if (asked.includes('SLOW-CHAT')) return { text: ['Let me think. ', 'This answer comes far too late.'], hold: { until: never, afterEvents: afterFirstDelta } };
  return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
}

describe.skipIf(!runEmacs)('Emacs client over Eglot (efrit-lsp.el)', () => {
  const signals = namedGates();
  const bed = emacsTestBed('emacs', (request) => respond(request, signals));
  ertSuite(bed, {
    script: testScript,
    signals,
    timeoutMs: 240_000,
    project: () => {
      const { project, file } = cartProject(bed.work);
      writeFileSync(join(project, 'src', 'notes.txt'), 'Not a source file.\n');
      return { project, file };
    },
  });

  it('sent the model what the tests asked, with the key and the configured model; the cancelled chat aborted', () => {
    const requests = bed.fake.requests;
    const asked = (request: RecordedRequest): string => lastUserText(request) || JSON.stringify(request.body.messages.at(-1));
    expect(requests.map(asked).filter((t) => !/CHAT-[123]|CHAT-HEADER|DO-ROUND|DO-BAD|not in src\/do-bad\.js|SLOW-CHAT|Add documentation|Explain what/.test(t))).toEqual([]);
    expect(requests.every((r) => r.apiKeyMatched)).toBe(true);
    expect(requests.every((r) => r.body.model === 'claude-emacs-test')).toBe(true);
    expect(requests.find((r) => lastUserText(r).includes('SLOW-CHAT'))?.outcome).toBe('aborted-by-client');
  });

  it('sent the second chat turn with the first as history, about the same file', () => {
    const chat2 = bed.fake.requests.find((r) => lastUserText(r).includes('CHAT-2'));
    expect((chat2?.body.messages as Message[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(textOf((chat2?.body.messages as Message[])[0])).toContain('function total(items, coupon)');
    expect(lastUserText(chat2 as RecordedRequest)).toContain('chat.js');
  });
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

  ertSuite(bed, {
    script: streamsScript,
    timeoutMs: 240_000,
    project: () => {
      return cartProject(bed.work);
    },
  });

  it('let the model call of the older explanation go when the server replaced it', () => {
    expect(bed.fake.requests.filter((r) => asksAbout(r, 'const TAX_RATE')).map((r) => r.outcome)).toEqual(['aborted-by-client', 'completed']);
  });
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

  ertSuite(bed, {
    script: join(repo, 'test/clients/emacs/efrit-ghost-test.el'),
    signals,
    timeoutMs: 240_000,
    project: () => {
      const project = join(bed.work, 'shop');
      mkdirSync(join(project, '.git'), { recursive: true });
      const file = join(project, 'pricing.py');
      writeFileSync(file, pricingPy);
      return { project, file };
    },
  });

  it('asked the fast model only for completions, with the key', () => {
    expect(bed.fake.requests.length).toBeGreaterThan(0);
    expect(bed.fake.requests.every((r) => r.apiKeyMatched && JSON.stringify(r.body.system ?? '').includes('code completion engine'))).toBe(true);
  });
});

describe.skipIf(!runEmacs)('Emacs client: efrit-lsp-status after a session on two providers', () => {
  // Actions on a Claude model, priced by the prices setting ($3 in, $15 out per million); completion on an openai: model with no price.
  const bed = emacsTestBed('emacs-providers', () => ({ text: ['`order_total` multiplies the unit price ', 'by the quantity.'] }));
  let openai: FakeOpenAI | undefined;
  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: testOpenAIKey, respond: () => ({ text: 'order.unit_price * order.quantity' }) });
  });
  afterAll(async () => {
    await openai?.close();
  });
  const run = ertSuite(bed, {
    script: join(repo, 'test/clients/emacs/efrit-providers-test.el'),
    timeoutMs: 240_000,
    project: () => {
      const project = join(bed.work, 'shop');
      mkdirSync(join(project, '.git'), { recursive: true });
      const file = join(project, 'pricing.py');
      writeFileSync(file, pricingPy);
      return { project, file, env: { OPENAI_API_KEY: testOpenAIKey, EFRIT_TEST_OPENAI_URL: openai?.baseURL ?? '' } };
    },
  });

  it('showed each provider with the figures the server counted: dollars for Claude, tokens only for the unpriced one', () => {
    const providers = run.emitted.get('PROVIDERS') as Record<string, ProviderUsageSummary>;
    const claude = providers['anthropic'];
    const completion = providers['openai'];
    expect(claude).toMatchObject({ requests: 1, unpricedRequests: 0 });
    expect(completion).toMatchObject({ requests: 1, unpricedRequests: 1, usd: 0 });
    if (claude === undefined || completion === undefined) throw new Error('both providers answered');
    const promptOf = (p: ProviderUsageSummary): number => p.inputTokens + p.cacheWriteTokens + p.cacheReadTokens;
    const claudeUsd = (claude.inputTokens * 3 + claude.outputTokens * 15 + (claude.cacheReadTokens + claude.cacheWriteTokens) * 3) / 1_000_000;
    expect(claudeUsd).toBeGreaterThan(0);
    const shown = String(run.emitted.get('STATUS-SHOWN')).split('\n');
    expect(shown[0]).toContain(` · spent $${claudeUsd.toFixed(4)} (+1 call with no known price)`);
    expect(shown.slice(1)).toEqual([
      `  anthropic: 1 request · tokens in ${promptOf(claude)}, out ${claude.outputTokens} · $${claudeUsd.toFixed(4)}`,
      `  openai: 1 request · tokens in ${promptOf(completion)}, out ${completion.outputTokens} · no price known (tokens only)`,
    ]);
    expect(bed.fake.requests.map((r) => r.body.model)).toEqual(['claude-shop-test']);
    expect(openai?.requests.map((r) => r.body.model)).toEqual(['qwen2.5-coder:7b']);
  });
});
