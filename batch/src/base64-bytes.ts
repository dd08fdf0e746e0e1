/** Input bytes per piece: a multiple of 3, so each piece's base64 has no padding until the last. */
const PIECE = 3 * 256 * 1024;

/**
 * `bytes` as base64 text in a Buffer, made a piece at a time: the same bytes as
 * Buffer.from(bytes.toString('base64')), but a 40 MB cutout never becomes one 55 MB JS string
 * (which node-redis would copy into its command string, and the socket into a Buffer again).
 */
export function base64Bytes(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 * Math.ceil(bytes.length / 3));
  let written = 0;
  for (let start = 0; start < bytes.length; start += PIECE) {
    written += out.write(bytes.subarray(start, start + PIECE).toString('base64'), written, 'latin1');
  }
  return written === out.length ? out : out.subarray(0, written);
}
