/**
 * A small glob matcher for `search_workspace`'s `glob` (Node 20 has no
 * `path.matchesGlob`). Paths are relative to a workspace root, with `/`.
 *
 * - `*` any characters but `/`; `?` one such character; `[abc]`, `[!a-z]`;
 * - `**` any number of directories (`src/**`, `**\/test/*.ts`);
 * - `{ts,tsx}` one of the alternatives (not nested);
 * - a pattern without `/` matches the file name at any depth (`*.ts`), as
 *   in .gitignore, since that is what a model asking for `*.ts` means;
 * - a pattern without wildcards also matches everything under it, so `src`
 *   means the folder, and a trailing `/` (`src/`) means the same.
 */

export type PathMatcher = (relativePath: string) => boolean;

export function compileGlob(pattern: string): PathMatcher {
  let glob = pattern.trim().replace(/\\/g, '/').replace(/^\.\//, '').replace(/^\/+/, '');
  if (glob.endsWith('/')) glob = `${glob}**`;
  const hasWildcard = /[*?[{]/.test(glob);
  const matchesNameOnly = !glob.includes('/');
  const expression = new RegExp(`^${translate(glob)}$`);
  return (relativePath) => {
    if (matchesNameOnly) {
      const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
      if (expression.test(name)) return true;
    }
    if (expression.test(relativePath)) return true;
    return !hasWildcard && relativePath.startsWith(`${glob}/`);
  };
}

function translate(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (char === '*') {
      let end = i;
      while (glob.charAt(end + 1) === '*') end++;
      const isGlobstar = end > i;
      const atSegmentStart = i === 0 || glob.charAt(i - 1) === '/';
      i = end;
      if (!isGlobstar) {
        out += '[^/]*';
      } else if (atSegmentStart && glob.charAt(i + 1) === '/') {
        // `**/` may also stand for no directory at all: `**/a.ts` matches `a.ts`.
        out += '(?:.*/)?';
        i++;
      } else {
        out += '.*';
      }
    } else if (char === '?') {
      out += '[^/]';
    } else if (char === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (char === '{') {
      const close = glob.indexOf('}', i + 1);
      if (close < 0) {
        out += '\\{';
        continue;
      }
      const alternatives = glob.slice(i + 1, close).split(',');
      out += `(?:${alternatives.map(translate).join('|')})`;
      i = close;
    } else {
      out += char.replace(/[.+^${}()|\\\]]/g, '\\$&');
    }
  }
  return out;
}
