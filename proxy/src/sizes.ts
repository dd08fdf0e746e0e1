const MIB = 1024 * 1024;

/** "20 MiB", "0.06 MiB": limits read better in MiB than in bytes. */
export function inMiB(bytes: number): string {
  return `${Number((bytes / MIB).toFixed(2))} MiB`;
}

/** A limit as messages name it: the bytes, the MiB and the setting that sets it. */
export function limitText(bytes: number, setting: string): string {
  return `${bytes} bytes (${inMiB(bytes)}, ${setting})`;
}
