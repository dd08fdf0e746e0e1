import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;

export interface ImageTask {
  /** File name inside the input folder. */
  name: string;
  path: string;
  /** File name of the cutout inside the output folder. */
  outName: string;
}

/** A folder problem the user can fix (missing, not a folder, no images). */
export class InputFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFolderError';
  }
}

function isImage(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/**
 * One `<stem>.png` per input. Stems that collide (a.jpg and a.png, or A.jpg and a.jpg on a
 * case-insensitive disk) get `-2`, `-3`, ... so no cutout overwrites another.
 */
export function outputNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    const stem = name.slice(0, name.length - extname(name).length);
    let candidate = stem;
    for (let n = 2; used.has(candidate.toLowerCase()); n++) candidate = `${stem}-${n}`;
    used.add(candidate.toLowerCase());
    return `${candidate}.png`;
  });
}

/** The images in a folder (not its subfolders), sorted by name as request.py does. */
export async function listImages(dir: string): Promise<ImageTask[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputFolderError(`input folder ${dir} does not exist: pass --in_images_dir <folder of images>`);
    if (code === 'ENOTDIR') throw new InputFolderError(`--in_images_dir ${dir} is a file, not a folder`);
    throw error;
  }
  const names = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImage(e.name))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) {
    throw new InputFolderError(`no ${IMAGE_EXTENSIONS.join(' ')} files in ${dir}`);
  }
  const outs = outputNames(names);
  return names.map((name, i) => ({ name, path: join(dir, name), outName: outs[i]! }));
}
