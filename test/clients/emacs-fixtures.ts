/** What the Emacs client tests share: the JavaScript fixture, and reading what the model was asked. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';

export const cartJs = `// cart.js — the shopping cart behind the checkout page.
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

export const docComment = `/**
 * Sums price × quantity over the cart's items.
 * @param {{price: number, quantity: number}[]} items
 * @returns {number}
 */
`;

type Block = { type: string; text?: string };
export type Message = { role: string; content: string | Block[] };

export const textOf = (message: Message | undefined): string =>
  message === undefined ? '' : typeof message.content === 'string' ? message.content : message.content.map((b) => b.text ?? '').join('\n');

/** The text of the last user message the model was sent. */
export const lastUserText = (request: RecordedRequest): string => {
  const messages = (request.body.messages ?? []) as Message[];
  return textOf([...messages].reverse().find((m) => m.role === 'user'));
};

/** The text of the first user message the model was sent: an efrit/do's instruction, in every step of its job. */
export const firstUserText = (request: RecordedRequest): string => textOf(((request.body.messages ?? []) as Message[])[0]);

/** `src/<name>-checkout.js`: the file beside `src/<name>-cart.js` that calls its total(); tests leave it unvisited. */
export const checkoutJs = (name: string): string => `// checkout.js — the checkout page's handler.
const { total } = require('./${name}-cart');

function checkout(cart) {
  return { amount: total(cart.items, cart.coupon) };
}

module.exports = { checkout };
`;

/** The test file the rename agent creates. */
export const cartTestJs = (name: string): string => `const assert = require('node:assert');
const { cartTotal } = require('../src/${name}-cart');

assert.strictEqual(cartTotal([], null), 0);
`;

/**
 * A scripted agent asked, in a copy `src/<name>-cart.js` of the cart, to rename
 * total(): first it reads `src/<name>-checkout.js` (the exact-quote rule wants a
 * file read before it is edited), then proposes one change: the open cart, the
 * checkout, and a new `test/<name>-cart.test.js`.
 */
export function renameAgent(request: RecordedRequest, name: string): FakeReply {
  if ((request.body.messages ?? []).length === 1) return { text: 'Let me read the checkout first.', toolUses: [{ name: 'read_file', input: { path: `src/${name}-checkout.js` } }] };
  const checkout = `src/${name}-checkout.js`;
  return {
    toolUses: [
      {
        name: 'propose_edits',
        input: {
          summary: 'Renamed total() to cartTotal() and added a test',
          edits: [
            { old_text: 'function total(items, coupon) {', new_text: 'function cartTotal(items, coupon) {' },
            { old_text: 'module.exports = { subtotal, total };', new_text: 'module.exports = { subtotal, cartTotal };' },
            { path: checkout, old_text: `const { total } = require('./${name}-cart');`, new_text: `const { cartTotal } = require('./${name}-cart');` },
            { path: checkout, old_text: 'amount: total(cart.items', new_text: 'amount: cartTotal(cart.items' },
          ],
          files: [{ action: 'create', path: `test/${name}-cart.test.js`, text: cartTestJs(name) }],
        },
      },
    ],
  };
}

/** A project folder `shop` in `work`, a VC root (Eglot's project is the folder), holding `src/cart.js`. */
export function cartProject(work: string): { project: string; file: string } {
  const project = join(work, 'shop');
  mkdirSync(join(project, '.git'), { recursive: true });
  mkdirSync(join(project, 'src'));
  const file = join(project, 'src', 'cart.js');
  writeFileSync(file, cartJs);
  return { project, file };
}
