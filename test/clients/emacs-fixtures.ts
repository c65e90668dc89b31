/** What the Emacs client tests share: the JavaScript fixture, and reading what the model was asked. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedRequest } from '../support/fake-anthropic/server.js';

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

/** A project folder `shop` in `work`, a VC root (Eglot's project is the folder), holding `src/cart.js`. */
export function cartProject(work: string): { project: string; file: string } {
  const project = join(work, 'shop');
  mkdirSync(join(project, '.git'), { recursive: true });
  mkdirSync(join(project, 'src'));
  const file = join(project, 'src', 'cart.js');
  writeFileSync(file, cartJs);
  return { project, file };
}
