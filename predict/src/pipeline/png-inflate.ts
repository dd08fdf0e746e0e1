import { createInflate } from 'node:zlib';

/** Output buffer of the count: big enough that a large image costs few callbacks, small enough to be nothing per request. */
const COUNT_CHUNK = 128 * 1024;

/**
 * True when the zlib stream made of `parts` inflates to more than `limit` bytes. It runs on zlib's
 * thread pool, keeps nothing and stops at the first chunk past the limit, so a 1 GiB bomb costs
 * what its header's size costs. Damaged data counts as not past the limit: reporting it is the
 * decoder's job.
 */
export function inflatesPast(parts: readonly Buffer[], limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    const inflater = createInflate({ chunkSize: COUNT_CHUNK });
    let total = 0;
    inflater.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) return;
      inflater.destroy();
      resolve(true);
    });
    inflater.on('end', () => resolve(false));
    inflater.on('error', () => resolve(false));
    for (const part of parts) inflater.write(part);
    inflater.end();
  });
}
