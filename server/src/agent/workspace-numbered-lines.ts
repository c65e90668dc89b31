/**
 * Numbered lines within a character budget, in the gutter format the rest
 * of Efrit shows the model (see context/capture-context.ts):
 *
 *      9| // Read once at startup.
 *     10| const config = load();
 *
 * The number is right-aligned to the widest one shown, then `| `, then the
 * line exactly. Lines are taken whole, top to bottom, until the budget is
 * spent; only a first line that alone exceeds the budget is cut (its start is
 * kept and `...[+N chars]` says how much is missing), so the caller can
 * always continue with the next line number.
 */

export interface LineSource {
  /** As LSP counts: a trailing line break starts one more, empty, line. */
  readonly lineCount: number;
  /** 0-based; without the line break. */
  lineText(line: number): string;
}

export interface NumberedLines {
  text: string;
  /** 1-based, inclusive: the last line shown (whole or cut). */
  lastShown: number;
  /** True when the one line shown had to be cut. */
  lineCut: boolean;
}

/** Lines `first`–`last` (1-based, inclusive, already inside the source). */
export function renderNumberedLines(source: LineSource, first: number, last: number, budget: number): NumberedLines {
  const width = String(last).length;
  const rows: string[] = [];
  let used = 0;
  let lastShown = first - 1;
  let lineCut = false;
  for (let line = first; line <= last; line++) {
    const prefix = `${String(line).padStart(width)}| `;
    const text = source.lineText(line - 1);
    // +1 for the line break that joins the rows.
    const cost = prefix.length + text.length + 1;
    if (used + cost > budget) {
      if (line === first) {
        const marker = `...[+${text.length} chars]`;
        const kept = surrogateSafeEnd(text, Math.max(0, budget - prefix.length - marker.length - 1));
        rows.push(`${prefix}${text.slice(0, kept)}...[+${text.length - kept} chars]`);
        lastShown = line;
        lineCut = true;
      }
      break;
    }
    rows.push(prefix + text);
    used += cost;
    lastShown = line;
  }
  return { text: rows.join('\n'), lastShown, lineCut };
}

/** Splits text the way LSP counts lines: \r\n, \n and \r each end a line. */
export function linesOf(text: string): LineSource {
  const lines = text.split(/\r\n|\r|\n/);
  return { lineCount: lines.length, lineText: (line) => lines[line] ?? '' };
}

// Never split a surrogate pair: half a character is not valid text.
function surrogateSafeEnd(text: string, end: number): number {
  if (end <= 0 || end >= text.length) return Math.max(0, Math.min(end, text.length));
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? end - 1 : end;
}
