import { constants } from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { digestChunks, type FileDigest } from '@cutout/predict/models';

// Windows has no O_NOFOLLOW; there O_EXCL on create is what refuses a planted link.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const CREATE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
const REOPEN = constants.O_RDWR | constants.O_APPEND | NOFOLLOW;
const READ_PIECE = 1 << 20;

/** The `.partial` path holds something this run will not write into, and could not clear it. */
export class PartialFileError extends Error {
  override name = 'PartialFileError';
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

async function unlinkIfThere(path: string): Promise<void> {
  await unlink(path).catch((error: unknown) => {
    if (codeOf(error) === 'ENOENT') return;
    throw new PartialFileError(`${path} is in the way and cannot be removed (${codeOf(error) ?? String(error)}); remove it and run the command again`);
  });
}

/**
 * The `<target>.partial` a download writes before the rename. Every byte goes through a handle
 * this process opened itself, never through a link that was there before: a symbolic link at
 * the path (planted by anyone who can write to the folder) would otherwise send the model's
 * bytes into whatever file it names, and a hard link would do the same to its other name.
 * unlink() removes a link itself, never what it points to; O_EXCL refuses to create through
 * any link; O_NOFOLLOW refuses to reopen one.
 */
export class PartialFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Bytes of a leftover this run may continue: a plain file with no other name. Anything else
   * at the path (a link, a file with a second name) is removed, the link itself and not its
   * target, and the download starts from 0.
   */
  static async resumableSize(path: string): Promise<number> {
    const found = await lstat(path).catch((error: unknown) => {
      if (codeOf(error) === 'ENOENT') return undefined;
      throw error;
    });
    if (found === undefined) return 0;
    if (found.isFile() && found.nlink === 1) return found.size;
    await unlinkIfThere(path);
    return 0;
  }

  /** A new, empty file of this process's own; whatever was at the path is unlinked first. */
  static async create(path: string): Promise<PartialFile> {
    await unlinkIfThere(path);
    const handle = await open(path, CREATE, 0o644).catch((error: unknown) => {
      // Something was put there between the unlink and the open: refuse rather than guess.
      throw new PartialFileError(`${path} could not be created as a new file (${codeOf(error) ?? String(error)}); is another pull running? Run the command again`);
    });
    return new PartialFile(path, handle);
  }

  /** The leftover resumableSize measured, opened to append, if it is still that plain file of `size` bytes. */
  static async reopen(path: string, size: number): Promise<PartialFile> {
    const changed = () => new PartialFileError(`${path} changed while the download was starting; run the command again`);
    const handle = await open(path, REOPEN).catch(() => {
      throw changed();
    });
    const opened = await handle.stat();
    if (!opened.isFile() || opened.nlink !== 1 || opened.size !== size) {
      await handle.close();
      throw changed();
    }
    return new PartialFile(path, handle);
  }

  /** Appends the whole chunk (a file write may take fewer bytes than it was given). */
  async write(chunk: Buffer): Promise<void> {
    for (let done = 0; done < chunk.length; ) {
      done += (await this.handle.write(chunk, done, chunk.length - done, null)).bytesWritten;
    }
  }

  /** The checksums of what this handle holds, read through the handle itself. */
  digest(): Promise<FileDigest> {
    return digestChunks(this.#chunks());
  }

  async *#chunks(): AsyncGenerator<Buffer> {
    const buffer = Buffer.alloc(READ_PIECE);
    for (let position = 0; ; ) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  }

  /** True while the path still names the file this handle writes. */
  async #stillOurs(): Promise<boolean> {
    const [ours, there] = await Promise.all([this.handle.stat(), lstat(this.path).catch(() => undefined)]);
    return there !== undefined && there.isFile() && there.dev === ours.dev && there.ino === ours.ino;
  }

  /** Renames the file to `target`, only if the path still names it (the rename replaces a link at `target`, never writes through it). */
  async keepAs(target: string): Promise<void> {
    const ours = await this.#stillOurs();
    await this.handle.close();
    if (!ours) throw new PartialFileError(`${this.path} was replaced during the download; nothing was kept. Run the command again`);
    await rename(this.path, target);
  }

  /** Closes the handle and keeps the file for the next run to resume. */
  close(): Promise<void> {
    return this.handle.close();
  }

  /** Closes the handle and removes the file, if the path still names it. */
  async discard(): Promise<void> {
    const ours = await this.#stillOurs().catch(() => false);
    await this.handle.close().catch(() => undefined);
    if (ours) await unlinkIfThere(this.path);
  }
}
