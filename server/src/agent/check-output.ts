/**
 * What a check command printed, kept within a fixed bound however much it
 * prints, and trimmed for the model with the failures first: a test runner's
 * one failing assertion is often thousands of lines above its last line, and
 * the model needs that line, not the progress dots around it.
 *
 * Kept while the command runs: the first lines, a rolling tail, and the first
 * lines that look like failures (FAIL, error, ✗, not ok, Traceback, …), each
 * cut to a bounded length. Nothing else is held, so a command that prints
 * gigabytes costs the server the same few hundred kilobytes.
 */

/** A line longer than this is cut; no failure message needs more, and a minified bundle on one line must not fill the budget. */
export const maxKeptLineChars = 400;
/** Failure-looking lines kept (the first ones: later ones are mostly the same failure again). */
export const maxFailureLines = 200;
/** Bytes of the tail kept. */
export const tailBytes = 64 * 1024;
/** Lines kept from the start (the command's own heading: which runner, which config). */
export const headLines = 10;
/** Room kept for a section's heading ("Last 120 lines (4000 before them not shown):"). */
const endHeadingChars = 60;
const failuresHeadingChars = 80;
const firstLinesHeading = 'First lines:';
/** An unfinished line is held up to this: more than is ever shown of it. */
const maxPendingChars = maxKeptLineChars * 4;

/** Lines that say something failed, in the words of common test runners, compilers and linters. */
const failurePattern = /\b(fail(ed|ing|ure|ures|s)?|errors?|not ok|traceback|panic(ked)?|assertion ?error|exception|cannot find|undefined reference)\b|\berr!|[✗✖✘×]/i;
/** Colour and cursor codes: noise to the model, and they hide words from the failure pattern. */
const ansiEscape = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g;

export function looksLikeFailure(line: string): boolean {
  return failurePattern.test(line);
}

export function plainLine(line: string): string {
  const plain = line.replace(ansiEscape, '').replace(/\r$/, '');
  // A progress bar rewrites its line with \r: the last state is what was shown.
  const shown = plain.slice(plain.lastIndexOf('\r') + 1);
  return shown.length > maxKeptLineChars ? `${shown.slice(0, maxKeptLineChars)}…` : shown;
}

export class CheckOutput {
  private readonly decoder = new TextDecoder();
  private pending = '';
  private readonly head: string[] = [];
  private readonly failures: string[] = [];
  private failuresSeen = 0;
  private tail: string[] = [];
  private tailSize = 0;
  private lines = 0;
  /** Bytes the command wrote, all of them, kept or not. */
  bytes = 0;

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    this.pending += this.decoder.decode(chunk, { stream: true });
    let newline = this.pending.indexOf('\n');
    while (newline >= 0) {
      this.addLine(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
    }
    if (this.pending.length > maxPendingChars) {
      // A line without end is kept only up to what would be shown of it anyway; of a line rewritten with \r, its latest state.
      const rewrite = this.pending.lastIndexOf('\r', this.pending.length - 2);
      this.pending = this.pending.slice(rewrite + 1, rewrite + 1 + maxPendingChars);
    }
  }

  /** Takes the last line, which may have no line break. */
  end(): void {
    this.pending += this.decoder.decode();
    if (this.pending !== '') this.addLine(this.pending);
  }

  private addLine(raw: string): void {
    const line = plainLine(raw);
    this.lines++;
    if (looksLikeFailure(line)) {
      this.failuresSeen++;
      if (this.failures.length < maxFailureLines) this.failures.push(line);
    }
    if (this.head.length < headLines) {
      this.head.push(line);
      return;
    }
    this.tail.push(line);
    this.tailSize += line.length + 1;
    if (this.tailSize > tailBytes * 2) this.dropTail();
  }

  private dropTail(): void {
    let size = this.tailSize;
    let first = 0;
    while (size > tailBytes && first < this.tail.length) size -= (this.tail[first++] as string).length + 1;
    this.tail = this.tail.slice(first);
    this.tailSize = size;
  }

  /** The first line that looks like a failure, for a one-line summary. */
  firstFailure(): string | undefined {
    return this.failures[0];
  }

  /**
   * The output within `maxChars`: the lines that look like failures first
   * (at most half of it), then as much of the end of the output as fits, then
   * the first lines if room is left; each part says what it is.
   */
  render(maxChars: number): string {
    if (this.lines === 0) return '(no output)';
    const sections: string[] = [];
    let room = maxChars;
    const fit = (lines: readonly string[], budget: number, fromEnd: boolean): string[] => {
      const kept: string[] = [];
      let used = 0;
      for (const line of fromEnd ? [...lines].reverse() : lines) {
        if (used + line.length + 1 > budget) break;
        kept.push(line);
        used += line.length + 1;
      }
      return fromEnd ? kept.reverse() : kept;
    };
    const section = (heading: string, lines: string[]): void => {
      if (lines.length === 0) return;
      const text = [heading, ...lines].join('\n');
      sections.push(text);
      room -= text.length + 1;
    };

    const failures = [...new Set(this.failures)];
    // Half the room, heading included.
    const shownFailures = fit(failures, Math.floor(maxChars / 2) - failuresHeadingChars, false);
    const count = this.failuresSeen > shownFailures.length ? `${shownFailures.length} of ${this.failuresSeen} shown` : `${shownFailures.length}`;
    section(`Lines that look like failures (${count}):`, shownFailures);

    const whole = this.lines === this.head.length + this.tail.length;
    const body = whole ? [...this.head, ...this.tail] : this.tail;
    // When the middle is cut, room is kept for the first lines (up to a third of what is left).
    const headRoom = whole ? 0 : Math.min(this.head.reduce((sum, line) => sum + line.length + 1, firstLinesHeading.length + 1), Math.floor(room / 3));
    const end = fit(body, room - headRoom - endHeadingChars, true);
    const left = this.lines - end.length;
    section(left === 0 ? 'Output:' : `Last ${end.length} lines (${left} before them not shown):`, end);
    if (!whole) section(firstLinesHeading, fit(this.head, room - firstLinesHeading.length - 1, false));
    return sections.join('\n');
  }
}
