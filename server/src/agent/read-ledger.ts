/**
 * What the agent has read in one job, file by file: the text as it was when
 * read and the lines it was shown. An edit to a file other than the one the
 * request is about is resolved against this record only, never against the
 * file as it is when the edit comes (the model quotes what it saw; a file
 * that changed since must be refused, not patched at offsets that moved).
 *
 * Bounded: at most `maxBytes` of text in all (the least recently read file
 * is forgotten first, and an edit to it is refused with "read it again").
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Where the text came from, and what identifies that exact text later. */
export type ReadOrigin =
  /** A document open in the editor: the journal can carry offsets from this version to the current one. */
  | { kind: 'editor'; uri: string; version: number; openId: number; epoch: number }
  /** A file on disk, not open: only a byte-identical file may be edited. */
  | { kind: 'disk'; realPath: string; lexicalPath: string; sha256: string };

export interface ReadSnapshot {
  /** The workspace-relative name, as the model writes it; the ledger's key. */
  displayPath: string;
  /** The whole text as read (UTF-16 offsets into it are document offsets). */
  text: string;
  origin: ReadOrigin;
  /** Lines shown to the model, 1-based and inclusive, merged and sorted. */
  shownLines: Array<[number, number]>;
}

/** Enough for the files one task reads (20 files of 1 MiB is far past a normal task), small against the server's heap. */
export const defaultReadLedgerBytes = 24 * 1024 * 1024;

/** The SHA-256 of the text's UTF-8 bytes (Node's encoding of a string), what a file on disk is compared by. */
export function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What names the exact text an origin read: equal for two reads of the same
 * text. An editor's and a disk's never meet (four fields against two).
 */
function identityOf(origin: ReadOrigin): string {
  return origin.kind === 'editor' ? JSON.stringify([origin.uri, origin.version, origin.openId, origin.epoch]) : JSON.stringify([origin.realPath, origin.sha256]);
}

/** Adds `[first, last]` to sorted, disjoint ranges, merging what touches. */
export function mergeLineRange(ranges: ReadonlyArray<[number, number]>, first: number, last: number): Array<[number, number]> {
  const all = [...ranges, [first, last] as [number, number]].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of all) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && start <= previous[1] + 1) previous[1] = Math.max(previous[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

export class ReadLedger {
  private readonly snapshots: LRUCache<string, ReadSnapshot>;

  constructor(maxBytes = defaultReadLedgerBytes) {
    this.snapshots = new LRUCache<string, ReadSnapshot>({
      maxSize: maxBytes,
      // Characters, not bytes, but proportional: the bound is what matters. An empty file still costs its entry.
      sizeCalculation: (snapshot) => snapshot.text.length + 1,
    });
  }

  /**
   * Records that lines `first`..`last` of this text were shown. A later read
   * of the same text adds to the lines shown; a read of other text (the
   * document moved on, the file changed) replaces the record, since quotes
   * must now come from what was read last.
   */
  record(displayPath: string, text: string, origin: ReadOrigin, first: number, last: number): void {
    const known = this.snapshots.get(displayPath);
    const shownLines = known !== undefined && identityOf(known.origin) === identityOf(origin) ? mergeLineRange(known.shownLines, first, last) : [[first, last] as [number, number]];
    this.snapshots.set(displayPath, { displayPath, text, origin, shownLines });
  }

  get(displayPath: string): ReadSnapshot | undefined {
    return this.snapshots.get(displayPath);
  }
}
