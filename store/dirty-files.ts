import type { StorageBackend, StorageFile } from './backend.js';

/**
 * The files of one directory written since their last flush, and whether the directory's entries changed
 * (files created or removed): what a flush has to make durable.
 */
export class DirtyFiles {
  private readonly files = new Set<StorageFile>();
  private dir = false;

  constructor(
    private readonly storage: StorageBackend,
    private readonly dirPath: string,
  ) {}

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

  /** Flushes the files, then the directory; on failure the marks stay for the next try. */
  async flush(): Promise<void> {
    const files = [...this.files];
    this.files.clear();
    const dir = this.dir;
    this.dir = false;
    try {
      await Promise.all(files.map((f) => f.flush()));
      if (dir) await this.storage.flushDir(this.dirPath);
    } catch (err) {
      for (const f of files) this.files.add(f);
      if (dir) this.dir = true;
      throw err;
    }
  }
}
