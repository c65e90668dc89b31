/**
 * Edits written as text, for models that cannot call tools (`modelsWithoutTools`).
 * The answer carries SEARCH/REPLACE blocks (see textEditsSystemPrompt in
 * model/prompts.ts); this module turns them into the very input `propose_edits`
 * takes, so the exact-quote rules of change-plan.ts apply unchanged. Parsing is
 * strict: a block that is not closed, a marker where text belongs, or a marker
 * line that is not one of the three forms is an `invalidEdit`, never a guess.
 */
import { EfritError } from '../common/errors.js';

export const searchMarker = '<<<<<<< SEARCH';
export const dividerMarker = '=======';
export const replaceMarker = '>>>>>>> REPLACE';
const summaryPrefix = 'Summary:';

/** The shape `propose_edits` takes (model/prompts.ts), which planChange reads. */
export interface TextEditsInput {
  summary: string;
  edits: Array<{ path?: string; old_text: string; new_text: string }>;
}

function refused(why: string): EfritError {
  return new EfritError('invalidEdit', `The model's edit was not usable (${why}); nothing was changed. Try again.`);
}

/** A line that begins like one of the markers: seven of the same character, as merge-conflict markers are written. */
const markerLike = /^(?:<{7}|={7}|>{7})/;

/** The path after `<<<<<<< SEARCH`, '' for none; undefined when the line is not a well-formed opening marker. */
function openingPath(line: string): string | undefined {
  if (!line.startsWith(searchMarker)) return undefined;
  const rest = line.slice(searchMarker.length);
  // A path is set off by a space: "<<<<<<< SEARCHsrc/a.ts" is a broken marker, not a path.
  if (rest.trim() !== '' && !rest.startsWith(' ')) return undefined;
  return rest.trim();
}

/** True when the answer holds at least one line that begins like a marker: the model meant to propose edits. */
export function looksLikeTextEdits(answer: string): boolean {
  return answer.split(/\r\n|\r|\n/).some((line) => markerLike.test(line));
}

/**
 * Reads the SEARCH/REPLACE blocks of an answer. Text outside blocks is prose
 * and ignored, except the first `Summary:` line, which becomes the summary.
 * Each block's texts are its lines joined with "\n" (no line break after the
 * last): an empty SEARCH part inserts at the selection, as an empty old_text does.
 */
export function parseTextEdits(answer: string): TextEditsInput {
  const lines = answer.split(/\r\n|\r|\n/);
  const edits: TextEditsInput['edits'] = [];
  let summary: string | undefined;
  let block: { path: string; openedAt: number; search: string[]; replace: string[] | undefined } | undefined;
  for (const [index, line] of lines.entries()) {
    const lineNumber = index + 1;
    const marker = markerLike.test(line);
    if (block === undefined) {
      if (marker && line.startsWith('<')) {
        const path = openingPath(line);
        if (path === undefined) throw refused(`line ${lineNumber} opens a block with "${line.slice(0, 40)}" instead of "${searchMarker}" and an optional path`);
        block = { path, openedAt: lineNumber, search: [], replace: undefined };
      } else if (marker) {
        throw refused(`line ${lineNumber} has a "${line.slice(0, 7)}" marker outside a ${searchMarker} block`);
      } else if (summary === undefined && line.startsWith(summaryPrefix)) {
        summary = line.slice(summaryPrefix.length).trim();
      }
      continue;
    }
    if (block.replace === undefined) {
      if (!marker) block.search.push(line);
      else if (line.trimEnd() === dividerMarker) block.replace = [];
      else throw refused(`line ${lineNumber} has a "${line.slice(0, 20)}" marker inside the SEARCH text of the block opened at line ${block.openedAt}`);
      continue;
    }
    if (!marker) {
      block.replace.push(line);
    } else if (line.trimEnd() === replaceMarker) {
      edits.push({ ...(block.path === '' ? {} : { path: block.path }), old_text: block.search.join('\n'), new_text: block.replace.join('\n') });
      block = undefined;
    } else {
      throw refused(`line ${lineNumber} has a "${line.slice(0, 20)}" marker inside the REPLACE text of the block opened at line ${block.openedAt}`);
    }
  }
  if (block !== undefined) {
    const missing = block.replace === undefined ? `"${dividerMarker}" and "${replaceMarker}"` : `"${replaceMarker}"`;
    throw refused(`the block opened at line ${block.openedAt} never ends: ${missing} missing`);
  }
  if (edits.length === 0) throw refused(`it has no ${searchMarker} block`);
  return { summary: summary ?? '', edits };
}
