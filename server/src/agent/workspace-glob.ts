/**
 * The glob matcher for `search_workspace`'s `glob` (Node 20 has no
 * `path.matchesGlob`). Paths are relative to a workspace root, with `/`.
 *
 * - `*` any characters but `/`; `?` one such character; `[abc]`, `[a-z]`,
 *   `[!a-z]` (or `[^a-z]`) one character of (or not of) the set, never `/`;
 * - `**` any number of directories (`src/**`, `**\/test/*.ts`);
 * - `{ts,tsx}` one of the alternatives, which may hold wildcards and nest;
 * - a pattern without `/` matches the file name at any depth (`*.ts`), as
 *   in .gitignore, since that is what a model asking for `*.ts` means;
 * - a pattern without wildcards also matches everything under it, so `src`
 *   means the folder, and a trailing `/` (`src/`) means the same.
 *
 * Why not a regex, nor picomatch or minimatch (which compile globs to
 * regexes): a backtracking regex built from `*a*a*a*a*b` takes exponential
 * time on a long name that does not match, and the pattern comes from the
 * model while the names come from the repository. This compiles the glob to
 * a Thompson NFA and runs all its states side by side over the path, so one
 * match costs at most (states × characters): linear in the pattern and in
 * the path, whatever either holds.
 */

export type PathMatcher = (relativePath: string) => boolean;

/** A pattern this matcher cannot take; its message says why, for the model. */
export class GlobSyntaxError extends Error {}

/** Braces nested deeper than this are refused (no real path needs it, and it bounds the parser's recursion). */
const maxBraceDepth = 16;

export function compileGlob(pattern: string): PathMatcher {
  let glob = pattern.trim().replace(/\\/g, '/').replace(/^\.\//, '').replace(/^\/+/, '');
  if (glob.endsWith('/')) glob = `${glob}**`;
  const hasWildcard = /[*?[{]/.test(glob);
  const matchesNameOnly = !glob.includes('/');
  const automaton = buildAutomaton(new Parser(glob).parse());
  return (relativePath) => {
    if (matchesNameOnly) {
      const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
      if (automaton.matches(name)) return true;
    }
    if (automaton.matches(relativePath)) return true;
    return !hasWildcard && relativePath.startsWith(`${glob}/`);
  };
}

// ---- Parsing: the glob's text to a small tree. ----

type GlobNode =
  | { kind: 'char'; code: number }
  /** `?`: one character but `/`. */
  | { kind: 'one' }
  | { kind: 'class'; negated: boolean; ranges: [number, number][] }
  /** `*`: any run of characters but `/`. */
  | { kind: 'star' }
  /** `**` inside a segment: any run of characters, `/` included. */
  | { kind: 'globstar' }
  /** `**\/` at a segment's start: nothing, or any run ending in `/` (whole directories). */
  | { kind: 'directories' }
  | { kind: 'alternatives'; branches: GlobNode[][] };

const slash = 0x2f;

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  parse(): GlobNode[] {
    return this.sequence(0, false);
  }

  /** Reads nodes up to the end, or (inside braces) up to the `,` or `}` that ends this branch. */
  private sequence(depth: number, inBraces: boolean): GlobNode[] {
    const nodes: GlobNode[] = [];
    const text = this.text;
    const branchStart = this.at;
    while (this.at < text.length) {
      const char = text.charAt(this.at);
      if (inBraces && (char === ',' || char === '}')) break;
      if (char === '*') {
        let end = this.at;
        while (text.charAt(end + 1) === '*') end++;
        const isGlobstar = end > this.at;
        const atSegmentStart = this.at === branchStart ? this.at === 0 || '/{,'.includes(text.charAt(this.at - 1)) : text.charAt(this.at - 1) === '/';
        this.at = end + 1;
        if (!isGlobstar) {
          nodes.push({ kind: 'star' });
        } else if (atSegmentStart && text.charAt(this.at) === '/') {
          this.at++;
          nodes.push({ kind: 'directories' });
        } else {
          nodes.push({ kind: 'globstar' });
        }
      } else if (char === '?') {
        this.at++;
        nodes.push({ kind: 'one' });
      } else if (char === '[') {
        nodes.push(this.characterClass());
      } else if (char === '{') {
        nodes.push(...this.alternatives(depth));
      } else {
        const code = text.codePointAt(this.at) as number;
        this.at += code > 0xffff ? 2 : 1;
        nodes.push({ kind: 'char', code });
      }
    }
    return nodes;
  }

  /** `[...]`, or a literal `[` when nothing closes it. `]` right after the opening (or after `!`) is a member, as in shells. */
  private characterClass(): GlobNode {
    const text = this.text;
    let cursor = this.at + 1;
    const negated = text.charAt(cursor) === '!' || text.charAt(cursor) === '^';
    if (negated) cursor++;
    const close = text.indexOf(']', cursor + 1);
    if (close === -1) {
      this.at++;
      return { kind: 'char', code: 0x5b };
    }
    const members = Array.from(text.slice(cursor, close), (char) => char.codePointAt(0) as number);
    // Stryker disable next-line ArrayDeclaration: equivalent, an element that is no pair of numbers never matches a code point
    const ranges: [number, number][] = [];
    while (members.length > 0) {
      const low = members.shift() as number;
      // `a-z` is a range (either way round); a `-` first or last is a member.
      if (members[0] === 0x2d && members.length > 1) {
        const high = members[1] as number;
        members.splice(0, 2);
        ranges.push([Math.min(low, high), Math.max(low, high)]);
      } else {
        ranges.push([low, low]);
      }
    }
    this.at = close + 1;
    return { kind: 'class', negated, ranges };
  }

  /** `{a,b}` as one node; a `{` that nothing closes is a literal (the text after it is read as usual). */
  private alternatives(depth: number): GlobNode[] {
    if (depth >= maxBraceDepth) throw new GlobSyntaxError(`braces are nested more than ${maxBraceDepth} deep`);
    const opening = this.at;
    this.at++;
    const branches: GlobNode[][] = [];
    for (;;) {
      branches.push(this.sequence(depth + 1, true));
      const char = this.text.charAt(this.at);
      if (char === ',') {
        this.at++;
        continue;
      }
      if (char === '}') {
        this.at++;
        return [{ kind: 'alternatives', branches }];
      }
      // Unclosed: read the brace as a literal and everything after it again, as plain pattern.
      this.at = opening + 1;
      return [{ kind: 'char', code: 0x7b }];
    }
  }
}

// ---- Matching: a Thompson NFA, simulated over all its live states at once. ----

/**
 * A state either consumes one character that passes `accepts` and moves to
 * `next`, or (`accepts` undefined) moves on without consuming to every state
 * in `also` and to `next`. The first state built is the accepting one.
 */
type State = { accepts: (code: number) => boolean; next: number } | EpsilonState;
type EpsilonState = { accepts: undefined; next: number; also: number[] };

const noState = -1;
const anyButSlash = (code: number): boolean => code !== slash;
const anything = (): boolean => true;

class Automaton {
  /** Generation marks: a state is in the current set when its mark equals the step's generation. */
  private readonly marks: Int32Array;
  private generation = 0;

  constructor(
    private readonly states: State[],
    private readonly start: number,
    private readonly accept: number,
  ) {
    this.marks = new Int32Array(states.length);
  }

  matches(path: string): boolean {
    let current = this.closure([this.start]);
    for (let i = 0; i < path.length && current.length > 0; ) {
      const code = path.codePointAt(i) as number;
      i += code > 0xffff ? 2 : 1;
      const moved: number[] = [];
      for (const index of current) {
        const state = this.states[index] as State;
        if (state.accepts !== undefined && state.accepts(code)) moved.push(state.next);
      }
      current = this.closure(moved);
    }
    return current.includes(this.accept);
  }

  /** The states reachable without consuming, each once; the generation mark makes that O(states). */
  private closure(seeds: readonly number[]): number[] {
    const generation = this.nextGeneration();
    const reached: number[] = [];
    const pending = [...seeds];
    while (pending.length > 0) {
      const index = pending.pop() as number;
      if (index === noState || this.marks[index] === generation) continue;
      this.marks[index] = generation;
      const state = this.states[index] as State;
      if (state.accepts !== undefined || index === this.accept) {
        reached.push(index);
        continue;
      }
      pending.push(state.next, ...state.also);
    }
    return reached;
  }

  private nextGeneration(): number {
    if (this.generation === 0x7fffffff) {
      this.marks.fill(0);
      this.generation = 0;
    }
    return ++this.generation;
  }
}

function buildAutomaton(nodes: GlobNode[]): Automaton {
  const states: State[] = [];
  const add = (state: State): number => states.push(state) - 1;
  // Stryker disable next-line ArrayDeclaration: equivalent, the accepting state is never expanded
  const accept = add({ accepts: undefined, next: noState, also: [] });

  /** Builds `sequence` so that it continues at `next`; returns where it starts. Built back to front, so every target exists. */
  const sequence = (sequenceNodes: readonly GlobNode[], next: number): number => {
    let start = next;
    for (let i = sequenceNodes.length - 1; i >= 0; i--) start = node(sequenceNodes[i] as GlobNode, start);
    return start;
  };

  /** A loop over characters passing `accepts`: zero or more of them, then `next`. */
  const loop = (accepts: (code: number) => boolean, next: number): number => {
    const choice = add({ accepts: undefined, next, also: [] });
    const consume = add({ accepts, next: choice });
    (states[choice] as EpsilonState).also.push(consume);
    return choice;
  };

  const node = (glob: GlobNode, next: number): number => {
    switch (glob.kind) {
      case 'char': {
        const code = glob.code;
        return add({ accepts: (c) => c === code, next });
      }
      case 'one':
        return add({ accepts: anyButSlash, next });
      case 'class': {
        const { negated, ranges } = glob;
        return add({ accepts: (c) => c !== slash && ranges.some(([low, high]) => c >= low && c <= high) !== negated, next });
      }
      case 'star':
        return loop(anyButSlash, next);
      case 'globstar':
        return loop(anything, next);
      case 'directories': {
        const throughSlash = loop(anything, add({ accepts: (c) => c === slash, next }));
        return add({ accepts: undefined, next, also: [throughSlash] });
      }
      case 'alternatives':
        return add({ accepts: undefined, next: noState, also: glob.branches.map((branch) => sequence(branch, next)) });
    }
  };

  const start = sequence(nodes, accept);
  return new Automaton(states, start, accept);
}
