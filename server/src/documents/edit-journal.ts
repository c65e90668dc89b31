/**
 * What changed in one document between versions, as offset spans — enough to
 * carry an old offset (an edit Efrit computed against an older version) to the
 * current text, to see whether the user touched the same place meanwhile, and to
 * tell later features which regions changed since the model last looked.
 *
 * Every query costs O(number of spans kept), never O(document): the journal
 * never holds text, only numbers.
 */

/**
 * One content change, in the coordinates of the text just BEFORE it was
 * applied: the UTF-16 range `[start, end)` was replaced by `insertedLength`
 * characters. A pure insertion has `start === end`; a pure deletion has
 * `insertedLength === 0`.
 */
export interface ChangeSpan {
  readonly start: number;
  readonly end: number;
  readonly insertedLength: number;
}

/**
 * A region of the CURRENT text that differs from the old version, with the
 * extent it had in the old text. Text outside all regions is identical in both
 * versions, which is what a unified-diff builder needs: old `[oldStart, oldEnd)`
 * became current `[start, end)`. An empty current region is a deletion.
 */
export interface ChangedRegion {
  readonly start: number;
  readonly end: number;
  readonly oldStart: number;
  readonly oldEnd: number;
}

/**
 * Where an offset lands when the text around it was replaced:
 * `'before'` keeps it at the left edge of the new text, `'after'` moves it past
 * the new text. It only matters for offsets strictly inside a replaced range or
 * exactly at a pure insertion; offsets at the outer edges of a replacement
 * keep their neighbouring (unchanged) character either way.
 */
export type Association = 'before' | 'after';

/** The read side of a journal: what features outside `documents/` may use. */
export interface ReadonlyEditJournal {
  /** The version the latest recorded step led to (the document's version). */
  readonly currentVersion: number;
  /** The oldest version the journal can still answer for. */
  readonly oldestVersion: number;
  /**
   * Counts resets. Versions before a reset can repeat after it (a client that
   * went back), so a version alone does not name a text: (epoch, version) does.
   */
  readonly epoch: number;
  /** Whether changes since `version` are still known. */
  covers(version: number): boolean;
  /** The spans applied since `version`, in order; `undefined` when not covered. */
  changesSince(version: number): ChangeSpan[] | undefined;
  /** Where an offset of `sinceVersion` is now; `undefined` when not covered. */
  mapOffset(offset: number, sinceVersion: number, assoc: Association): number | undefined;
  /** The merged regions (current coordinates) that changed since `version`. */
  changedRegionsSince(version: number): ChangedRegion[] | undefined;
}

export interface EditJournalOptions {
  /**
   * Spans kept (one per content change), and also the most version steps kept,
   * so that a stream of empty changes cannot grow the journal either. The
   * oldest whole steps are dropped first. @default 512
   */
  limit?: number;
}

export const defaultJournalLimit = 512;

const initialCapacity = 16;

/**
 * Spans and steps live in rings of plain numbers (typed arrays), addressed by
 * ever-increasing sequence numbers modulo the capacity: recording a keystroke
 * keeps no object alive, so the journal adds no garbage-collector work on top
 * of the text itself. Capacity grows by doubling up to the limit, so a
 * document that is barely edited costs under a kilobyte.
 */
export class EditJournal implements ReadonlyEditJournal {
  private resets = 0;

  get epoch(): number {
    return this.resets;
  }

  private readonly limit: number;
  private current: number;
  private oldest: number;

  private spanStarts = new Float64Array(0);
  private spanEnds = new Float64Array(0);
  private spanInserted = new Float64Array(0);
  /** Sequence number of the oldest kept span, and one past the newest. */
  private firstSpanSeq = 0;
  private nextSpanSeq = 0;

  private stepFromVersions = new Float64Array(0);
  private stepToVersions = new Float64Array(0);
  /** The sequence number of each step's first span. */
  private stepFirstSpans = new Float64Array(0);
  private firstStepSeq = 0;
  private nextStepSeq = 0;

  constructor(version: number, options: EditJournalOptions = {}) {
    this.limit = Math.max(0, Math.floor(options.limit ?? defaultJournalLimit));
    this.current = version;
    this.oldest = version;
  }

  get currentVersion(): number {
    return this.current;
  }

  get oldestVersion(): number {
    return this.oldest;
  }

  /** Number of spans kept (for tests and memory accounting). */
  get size(): number {
    return this.nextSpanSeq - this.firstSpanSeq;
  }

  /** Bytes held by the rings (for tests and memory accounting): bounded by the limit, however long the document is edited. */
  get retainedBytes(): number {
    const rings = [this.spanStarts, this.spanEnds, this.spanInserted, this.stepFromVersions, this.stepToVersions, this.stepFirstSpans];
    return rings.reduce((bytes, ring) => bytes + ring.byteLength, 0);
  }

  /**
   * Records the step `fromVersion → toVersion`. A step that does not continue
   * from the current version, or does not move forward, leaves older versions
   * ambiguous, so the journal starts over at `toVersion` instead; so does a
   * step with more spans than the limit, which could never be answered for.
   */
  record(fromVersion: number, toVersion: number, spans: readonly ChangeSpan[]): void {
    if (fromVersion !== this.current || !(toVersion > fromVersion) || spans.length > this.limit || this.limit === 0) {
      this.reset(toVersion);
      return;
    }
    while (this.size + spans.length > this.limit || this.nextStepSeq - this.firstStepSeq + 1 > this.limit) this.dropOldestStep();
    this.ensureSpanCapacity(this.size + spans.length);
    this.ensureStepCapacity(this.nextStepSeq - this.firstStepSeq + 1);

    const step = this.nextStepSeq % this.stepFromVersions.length;
    this.stepFromVersions[step] = fromVersion;
    this.stepToVersions[step] = toVersion;
    this.stepFirstSpans[step] = this.nextSpanSeq;
    this.nextStepSeq++;
    const capacity = this.spanStarts.length;
    for (const span of spans) {
      const slot = this.nextSpanSeq % capacity;
      this.spanStarts[slot] = span.start;
      this.spanEnds[slot] = span.end;
      this.spanInserted[slot] = span.insertedLength;
      this.nextSpanSeq++;
    }
    this.current = toVersion;
  }

  /** Forgets everything: only `version` itself can be answered for afterwards. */
  reset(version: number): void {
    this.resets += 1;
    this.firstSpanSeq = this.nextSpanSeq;
    this.firstStepSeq = this.nextStepSeq;
    this.current = version;
    this.oldest = version;
  }

  covers(version: number): boolean {
    return this.firstSpanSince(version) !== undefined;
  }

  changesSince(version: number): ChangeSpan[] | undefined {
    const first = this.firstSpanSince(version);
    if (first === undefined) return undefined;
    const spans: ChangeSpan[] = [];
    for (let seq = first; seq < this.nextSpanSeq; seq++) spans.push(this.spanAt(seq));
    return spans;
  }

  mapOffset(offset: number, sinceVersion: number, assoc: Association): number | undefined {
    const first = this.firstSpanSince(sinceVersion);
    if (first === undefined) return undefined;
    let mapped = offset;
    for (let seq = first; seq < this.nextSpanSeq; seq++) mapped = mapThroughSpan(mapped, this.spanAt(seq), assoc);
    return mapped;
  }

  changedRegionsSince(version: number): ChangedRegion[] | undefined {
    const first = this.firstSpanSince(version);
    if (first === undefined) return undefined;
    // Regions are kept in the coordinates of the text as it stands after the
    // spans folded in so far, each with its length change, so that old extents
    // can be recovered at the end from the deltas of the regions before it.
    const regions: WorkingRegion[] = [];
    for (let seq = first; seq < this.nextSpanSeq; seq++) foldSpan(regions, this.spanAt(seq));
    const result: ChangedRegion[] = [];
    let deltaBefore = 0;
    for (const region of regions) {
      const oldStart = region.start - deltaBefore;
      const oldEnd = oldStart + (region.end - region.start) - region.delta;
      result.push({ start: region.start, end: region.end, oldStart, oldEnd });
      deltaBefore += region.delta;
    }
    return result;
  }

  private spanAt(seq: number): ChangeSpan {
    const slot = seq % this.spanStarts.length;
    return { start: this.spanStarts[slot] as number, end: this.spanEnds[slot] as number, insertedLength: this.spanInserted[slot] as number };
  }

  /** Sequence number of the first span after `version`; the next one when it is current. */
  private firstSpanSince(version: number): number | undefined {
    if (version === this.current) return this.nextSpanSeq;
    // Versions only grow along the steps, so a binary search finds the step;
    // a version before the oldest kept step, after the current one, or between
    // two recorded ones was never seen and is not answered.
    const capacity = this.stepFromVersions.length;
    let low = this.firstStepSeq;
    let high = this.nextStepSeq - 1;
    while (low <= high) {
      const mid = Math.floor((low + high) / 2);
      const from = this.stepFromVersions[mid % capacity] as number;
      if (from === version) return this.stepFirstSpans[mid % capacity] as number;
      // Stryker disable next-line EqualityOperator: equivalent, the equal version returned just above
      if (from < version) low = mid + 1;
      else high = mid - 1;
    }
    return undefined;
  }

  private dropOldestStep(): void {
    // Stryker disable next-line ConditionalExpression: equivalent, record never drops from an empty journal (a step over the limit, or a limit of 0, resets instead); kept so that no future caller can run past the newest step
    if (this.firstStepSeq === this.nextStepSeq) return;
    const capacity = this.stepFromVersions.length;
    this.oldest = this.stepToVersions[this.firstStepSeq % capacity] as number;
    this.firstStepSeq++;
    this.firstSpanSeq = this.firstStepSeq === this.nextStepSeq ? this.nextSpanSeq : (this.stepFirstSpans[this.firstStepSeq % capacity] as number);
  }

  private ensureSpanCapacity(needed: number): void {
    const capacity = this.spanStarts.length;
    // Stryker disable next-line EqualityOperator: equivalent, growing to exactly the capacity it has gives that capacity again (the ring never exceeds the limit), so it only copies the ring as it is
    if (needed <= capacity) return;
    const grown = grownCapacity(capacity, needed, this.limit);
    const starts = new Float64Array(grown);
    const ends = new Float64Array(grown);
    const inserted = new Float64Array(grown);
    // Stryker disable next-line EqualityOperator: equivalent, one more copies the unused slot after the newest span into an unused slot of the grown ring
    for (let seq = this.firstSpanSeq; seq < this.nextSpanSeq; seq++) {
      const from = seq % capacity;
      const to = seq % grown;
      starts[to] = this.spanStarts[from] as number;
      ends[to] = this.spanEnds[from] as number;
      inserted[to] = this.spanInserted[from] as number;
    }
    this.spanStarts = starts;
    this.spanEnds = ends;
    this.spanInserted = inserted;
  }

  private ensureStepCapacity(needed: number): void {
    const capacity = this.stepFromVersions.length;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, a new step always needs a slot, so an empty ring grows either way, and growing a ring that is big enough gives the capacity it has (it never exceeds the limit), so it only copies the ring as it is
    if (needed <= capacity) return;
    const grown = grownCapacity(capacity, needed, this.limit);
    const fromVersions = new Float64Array(grown);
    const toVersions = new Float64Array(grown);
    const firstSpans = new Float64Array(grown);
    // Stryker disable next-line EqualityOperator: equivalent, one more copies the unused slot after the newest step into an unused slot of the grown ring
    for (let seq = this.firstStepSeq; seq < this.nextStepSeq; seq++) {
      const from = seq % capacity;
      const to = seq % grown;
      fromVersions[to] = this.stepFromVersions[from] as number;
      toVersions[to] = this.stepToVersions[from] as number;
      firstSpans[to] = this.stepFirstSpans[from] as number;
    }
    this.stepFromVersions = fromVersions;
    this.stepToVersions = toVersions;
    this.stepFirstSpans = firstSpans;
  }
}

function grownCapacity(capacity: number, needed: number, limit: number): number {
  let grown = Math.max(capacity, initialCapacity);
  while (grown < needed) grown *= 2;
  return Math.min(grown, Math.max(limit, needed));
}

/** Carries one offset across one span; see {@link Association}. */
export function mapThroughSpan(offset: number, span: ChangeSpan, assoc: Association): number {
  if (offset < span.start) return offset;
  if (offset > span.end) return offset + span.insertedLength - (span.end - span.start);
  const isInsertion = span.start === span.end;
  if (offset === span.start && !isInsertion) return span.start;
  if (offset === span.end && !isInsertion) return span.start + span.insertedLength;
  return assoc === 'before' ? span.start : span.start + span.insertedLength;
}

interface WorkingRegion {
  start: number;
  end: number;
  /** Current length minus old length. */
  delta: number;
}

/**
 * Folds one span into the sorted, disjoint region list (all in the span's
 * "before" coordinates). Regions the span overlaps or touches merge with it,
 * since a diff hunk would join them anyway. O(regions) per span; typing keeps
 * merging into one region, so in practice the list stays short.
 */
function foldSpan(regions: WorkingRegion[], span: ChangeSpan): void {
  const spanDelta = span.insertedLength - (span.end - span.start);
  let i = 0;
  while (i < regions.length && (regions[i] as WorkingRegion).end < span.start) i++;
  let j = i;
  let start = span.start;
  let end = span.end;
  let delta = spanDelta;
  while (j < regions.length && (regions[j] as WorkingRegion).start <= span.end) {
    const region = regions[j] as WorkingRegion;
    start = Math.min(start, region.start);
    end = Math.max(end, region.end);
    delta += region.delta;
    j++;
  }
  for (let k = j; k < regions.length; k++) {
    const region = regions[k] as WorkingRegion;
    region.start += spanDelta;
    region.end += spanDelta;
  }
  regions.splice(i, j - i, { start, end: end + spanDelta, delta });
}
