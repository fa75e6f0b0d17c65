import type { StorageBackend, StorageFile } from './backend.js';

/** The directory holding `path` ('' for a top-level name). */
export function parentDir(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? (path.startsWith('/') ? '/' : '') : path.slice(0, i);
}

/**
 * Creates `dir` and its missing parents, and returns the directories whose entries that changed: the parent of
 * each directory created, deepest first (empty when `dir` existed). Flushing them makes the new directories
 * durable, as flushing a directory makes the files created in it durable.
 */
export function createDirs(storage: StorageBackend, dir: string): string[] {
  const parents: string[] = [];
  // one step per path component
  for (let d = dir, depth = 0; d !== '' && d !== '/' && depth < 256 && !storage.exists(d); d = parentDir(d), depth++) parents.push(parentDir(d));
  if (parents.length > 0) storage.mkdir(dir);
  return parents;
}

/**
 * The files of one directory written since their last flush, and whether the directory's entries changed
 * (files created or removed): what a flush has to make durable. The directory is created with the set; when it
 * was new, the first flush also flushes the parents whose entries its creation changed.
 */
export class DirtyFiles {
  private readonly files = new Set<StorageFile>();
  private dir = false;
  /** Parents to flush once (the directory, or some of its parents, were created here), deepest first. */
  private parents: string[];

  constructor(
    private readonly storage: StorageBackend,
    private readonly dirPath: string,
  ) {
    this.parents = createDirs(storage, dirPath);
    if (this.parents.length > 0) this.dir = true;
  }

  add(file: StorageFile): void {
    this.files.add(file);
  }
  delete(file: StorageFile): void {
    this.files.delete(file);
  }
  /** A file was created or removed in the directory. */
  markDir(): void {
    this.dir = true;
  }
  get any(): boolean {
    return this.files.size > 0 || this.dir;
  }
  clear(): void {
    this.files.clear();
  }

  /** Flushes the files, then the directory, then new parents' entries; on failure the marks stay for the next try. */
  async flush(): Promise<void> {
    const files = [...this.files];
    this.files.clear();
    const dir = this.dir;
    this.dir = false;
    const parents = this.parents;
    this.parents = [];
    try {
      await Promise.all(files.map((f) => f.flush()));
      if (dir) await this.storage.flushDir(this.dirPath);
      for (const p of parents) await this.storage.flushDir(p);
    } catch (err) {
      for (const f of files) this.files.add(f);
      if (dir) this.dir = true;
      if (parents.length > 0) this.parents = parents;
      throw err;
    }
  }
}
