/**
 * If-None-Match as RFC 9110 §13.1.2 reads it: `*`, or a comma-separated list of entity tags
 * compared weakly (a `W/` prefix does not matter). Caches and browsers send lists and weak tags
 * (a proxy that compresses a response turns its ETag weak), so an exact string compare would
 * miss them and send the whole cutout again.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const wanted = opaque(etag);
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || opaque(tag) === wanted) return true;
  }
  return false;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
