/**
 * Whether the cursor sits in a comment or a string, judged from its line
 * alone. Automatic completions there mostly suggest prose nobody asked for,
 * so they are skipped (per the `skipInCommentsAndStrings` setting). This is a
 * one-line heuristic on purpose — no parser per language in the hot path:
 * scanning the line up to the cursor, a line-comment marker outside quotes
 * means a comment, and an unclosed (odd, unescaped) quote means a string.
 * Block comments are recognised only by a line starting with `/*` or `*`.
 * Multi-line strings and block comments seen from their inner lines are missed;
 * a miss only costs one suggestion.
 */

const lineCommentMarkers: Record<string, readonly string[]> = {
  python: ['#'], shellscript: ['#'], sh: ['#'], bash: ['#'], ruby: ['#'], perl: ['#'], r: ['#'], yaml: ['#'], toml: ['#'],
  makefile: ['#'], elixir: ['#'], dockerfile: ['#'], powershell: ['#'], nix: ['#'], julia: ['#'], coffeescript: ['#'],
  sql: ['--'], lua: ['--'], haskell: ['--'], elm: ['--'], ada: ['--'], purescript: ['--'],
  'emacs-lisp': [';'], elisp: [';'], lisp: [';'], scheme: [';'], clojure: [';'], racket: [';'], fennel: [';'],
  ini: [';', '#'], asm: [';'], nasm: [';'],
  erlang: ['%'], latex: ['%'], tex: ['%'], matlab: ['%'], prolog: ['%'],
  vim: ['"'],
};

/** C-like languages, and the fallback for any language not listed: `//` and the block-comment line starts. */
const defaultMarkers = ['//'] as const;

/** Languages where `'` is not a string quote (Lisp quote, Rust lifetimes, ML type variables) or `"` starts a comment. */
const apostropheIsNotQuote = new Set(['emacs-lisp', 'elisp', 'lisp', 'scheme', 'clojure', 'racket', 'fennel', 'rust', 'ocaml', 'fsharp', 'haskell', 'elm', 'vim']);

export function inCommentOrString(linePrefix: string, languageId: string): boolean {
  // Own keys only: a languageId is the client's string, and "constructor" must not find Object's.
  const listed = Object.hasOwn(lineCommentMarkers, languageId) ? lineCommentMarkers[languageId] : undefined;
  const markers = listed ?? defaultMarkers;
  const cLike = listed === undefined;
  if (cLike && /^\s*(\/\*|\*)/.test(linePrefix)) return true;
  const quotes = languageId === 'vim' ? ["'"] : apostropheIsNotQuote.has(languageId) ? ['"', '`'] : ['"', "'", '`'];

  let open: string | undefined;
  for (let i = 0; i < linePrefix.length; i++) {
    const ch = linePrefix[i] ?? '';
    if (open !== undefined) {
      if (ch === '\\') i++;
      else if (ch === open) open = undefined;
      continue;
    }
    if (quotes.includes(ch)) {
      open = ch;
      continue;
    }
    if (markers.some((m) => linePrefix.startsWith(m, i))) return true;
    if (cLike && linePrefix.startsWith('/*', i) && !linePrefix.includes('*/', i + 2)) return true;
  }
  return open !== undefined;
}
