import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Ids shaped like the real ones (`msg_01…`, `toolu_01…`, `req_01…`): prefix, `01`, 22 base62 characters. */
export function randomId(prefix: 'msg' | 'toolu' | 'req'): string {
  const bytes = randomBytes(22);
  let tail = '';
  for (const byte of bytes) tail += BASE62[byte % BASE62.length];
  return `${prefix}_01${tail}`;
}
