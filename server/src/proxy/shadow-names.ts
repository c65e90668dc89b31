/**
 * The names of shadow documents: the copies at URIs of efrit-lsp's own at
 * which texts that are not the user's are checked (see wrapped-server-link.ts).
 * The name alone tells a shadow, so the router can keep every message about
 * one from the editor without keeping a list.
 */
const shadowMark = /\.efrit-check-\d+(?=\.[^/.]*$|$)/;

/** The shadow of `uri` numbered `n`: the same folder and extension, the name marked (`a.ts` → `a.efrit-check-7.ts`). */
export function shadowUriFor(uri: string, n: number): string {
  const slash = uri.lastIndexOf('/');
  const name = uri.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const extension = dot > 0 ? name.slice(dot) : '';
  return `${uri.slice(0, slash + 1)}${stem}.efrit-check-${n}${extension}`;
}

/** Whether a document is one of efrit-lsp's shadows: the router forwards nothing about it to the editor. */
export function isShadowUri(uri: string): boolean {
  // Asked of every string key and URI of a large answer: most are no shadow, and this says so without a slice or a regex.
  if (!uri.includes('.efrit-check-')) return false;
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  return shadowMark.test(name);
}
