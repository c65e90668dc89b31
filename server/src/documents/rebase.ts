/**
 * Carries edits Efrit computed against an older version of a document onto
 * the current text — or refuses to. The user keeps typing while the model
 * works; an edit far from their typing only needs its offsets shifted, but an
 * edit that meets their change cannot be merged without guessing what either
 * side meant, so it is refused with a message they can act on.
 *
 * Overlap rule (conservative): an edit conflicts with a change when their
 * ranges overlap or merely touch, i.e. `change.start <= edit.end &&
 * change.end >= edit.start` in the same coordinates. That makes typing right
 * at either edge of a replaced range a conflict, and so is an insertion by the
 * user at the very offset where Efrit inserts.
 */
import type { TextEdit } from 'vscode-languageserver-textdocument';
import { mapThroughSpan } from './edit-journal.js';
import type { ChangeSpan } from './edit-journal.js';
import type { TrackedDocument } from './tracked-document.js';

/** Replace `[start, end)` (UTF-16 offsets) with `newText`. */
export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
}

export type RebaseFailure = 'conflict' | 'unknownVersion' | 'invalidEdit';

export type RebaseResult =
  /** `edits` in current coordinates, in the order given; `rebased` when the version moved on and offsets went through the journal. */
  | { ok: true; edits: OffsetEdit[]; rebased: boolean }
  | { ok: false; reason: RebaseFailure; message: string };

const runAgain = 'Run the action again.';

/**
 * Rebases `edits`, expressed in the coordinates of `baseVersion` (within the
 * journal's `baseEpoch`), onto the document's current version. Costs O(edits × changes since baseVersion).
 */
export function rebaseEdits(edits: readonly OffsetEdit[], baseVersion: number, doc: TrackedDocument, baseEpoch = doc.journal.epoch): RebaseResult {
  const malformed = findMalformedEdit(edits);
  if (malformed !== undefined) return { ok: false, reason: 'invalidEdit', message: malformed };

  if (baseEpoch !== doc.journal.epoch) {
    // The journal was reset (the client's versions went back): the same version number may now name other text.
    return {
      ok: false,
      reason: 'unknownVersion',
      message: `The editor went back to an earlier version of the document while Efrit was working, so the edit was not applied. ${runAgain}`,
    };
  }

  if (baseVersion === doc.version) return withinDocument(edits.slice(), doc, false);

  // Stryker disable next-line EqualityOperator: equivalent, the equal version returned just above
  if (baseVersion > doc.version) {
    return {
      ok: false,
      reason: 'unknownVersion',
      message: `Efrit's edit was made for version ${baseVersion} of the document, but the editor is at version ${doc.version}, so it was not applied. ${runAgain}`,
    };
  }
  const spans = doc.journal.changesSince(baseVersion);
  if (spans === undefined) {
    return {
      ok: false,
      reason: 'unknownVersion',
      message: `The document changed too much while Efrit was working (changes can be followed back to version ${doc.journal.oldestVersion}, the edit was made for version ${baseVersion}), so it was not applied. ${runAgain}`,
    };
  }

  const rebased: OffsetEdit[] = [];
  for (const edit of edits) {
    let start = edit.start;
    let end = edit.end;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i] as ChangeSpan;
      if (span.start <= end && span.end >= start) {
        const line = doc.positionAt(currentOffsetOf(span, spans, i)).line + 1;
        return {
          ok: false,
          reason: 'conflict',
          message: `The document changed at line ${line} while Efrit was working; the edit overlaps your change, so it was not applied. ${runAgain}`,
        };
      }
      // Stryker disable next-line EqualityOperator: equivalent, a span ending exactly at `start` touches the edit and was refused above
      if (span.end < start) {
        const delta = span.insertedLength - (span.end - span.start);
        start += delta;
        end += delta;
      }
    }
    rebased.push({ start, end, newText: edit.newText });
  }
  return withinDocument(rebased, doc, true);
}

/** The edits as LSP `TextEdit`s against the document's current text. */
export function toTextEdits(edits: readonly OffsetEdit[], doc: TrackedDocument): TextEdit[] {
  return edits.map((edit) => ({
    range: { start: doc.positionAt(edit.start), end: doc.positionAt(edit.end) },
    newText: edit.newText,
  }));
}

/** Where the start of span `index` is in the current text, for the message. */
function currentOffsetOf(span: ChangeSpan, spans: readonly ChangeSpan[], index: number): number {
  let offset = span.start;
  for (let i = index + 1; i < spans.length; i++) offset = mapThroughSpan(offset, spans[i] as ChangeSpan, 'before');
  return offset;
}

function findMalformedEdit(edits: readonly OffsetEdit[]): string | undefined {
  for (const edit of edits) {
    if (!Number.isInteger(edit.start) || !Number.isInteger(edit.end) || edit.start < 0 || edit.end < edit.start) {
      return `Efrit produced an edit with an invalid range (${edit.start}–${edit.end}), so it was not applied. ${runAgain}`;
    }
  }
  // The editor rejects a workspace edit whose ranges overlap, so catch it here
  // with a clearer message. Insertions at the same offset are fine (LSP keeps
  // their order).
  const sorted = edits.slice().sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as OffsetEdit;
    const next = sorted[i] as OffsetEdit;
    if (next.start < previous.end) {
      return `Efrit produced overlapping edits (${previous.start}–${previous.end} and ${next.start}–${next.end}), so they were not applied. ${runAgain}`;
    }
  }
  return undefined;
}

function withinDocument(edits: OffsetEdit[], doc: TrackedDocument, rebased: boolean): RebaseResult {
  const length = doc.text.length;
  for (const edit of edits) {
    if (edit.end > length) {
      return {
        ok: false,
        reason: 'invalidEdit',
        message: `Efrit produced an edit past the end of the document (offset ${edit.end} of ${length}), so it was not applied. ${runAgain}`,
      };
    }
  }
  return { ok: true, edits, rebased };
}
