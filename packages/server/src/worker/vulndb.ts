/**
 * The vulnerability DB the worker matches with: opened once, and reopened when its file is
 * replaced (`palisade db update` writes a new file and renames it over the old one, so the inode
 * or mtime changes). A scan holds the DB it started with until it ends; the old handle closes
 * when its last scan releases it, so an update never pulls the DB from under a running match.
 */
import { statSync } from 'node:fs';
import { PalisadeError, toPalisadeError } from '@palisade/core';
import { openVulnDb, type VulnDb } from '@palisade/vulndb';

export interface VulnDbState {
  loaded: boolean;
  path: string;
  builtAt: string | null;
  /** Why it is not loaded. */
  error: string | null;
}

export interface VulnDbLease {
  db: VulnDb;
  release(): void;
}

export interface VulnDbHolder {
  /** Current state; checks the file again, so a DB imported after start is picked up. */
  status(): VulnDbState;
  /** The current DB for one scan; E_DB when there is none. Call release() when the scan ends. */
  acquire(): VulnDbLease;
  close(): void;
}

interface Opened {
  db: VulnDb;
  fileKey: string;
  users: number;
  retired: boolean;
}

export function createVulnDbHolder(path: string, open: (p: string) => VulnDb = (p) => openVulnDb(p)): VulnDbHolder {
  let current: Opened | null = null;
  let lastError: string | null = null;

  const fileKey = (): string | null => {
    try {
      const s = statSync(path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return null;
    }
  };

  const retire = (o: Opened): void => {
    o.retired = true;
    if (o.users === 0) o.db.close();
  };

  /** Make `current` match the file on disk. */
  const refresh = (): Opened | null => {
    const key = fileKey();
    if (key === null) {
      lastError = 'no vulnerability database: import one with `palisade db import` or `palisade db update`';
      if (current) retire(current);
      current = null;
      return null;
    }
    if (current && current.fileKey === key) return current;
    try {
      const db = open(path);
      db.status(); // fails now on a corrupt or foreign file, not in the middle of a scan
      if (current) retire(current);
      current = { db, fileKey: key, users: 0, retired: false };
      lastError = null;
    } catch (err) {
      // Keep serving the previous DB when the new file is unreadable (e.g. half-written by hand).
      lastError = toPalisadeError(err, 'E_DB').describe();
    }
    return current;
  };

  return {
    status() {
      const o = refresh();
      let builtAt: string | null = null;
      if (o) {
        try {
          builtAt = o.db.status().builtAt;
        } catch {
          builtAt = null;
        }
      }
      return { loaded: o !== null, path, builtAt, error: o ? null : lastError };
    },
    acquire() {
      const o = refresh();
      if (!o) throw new PalisadeError('E_DB', lastError ?? 'vulnerability database not loaded', { subject: path });
      o.users++;
      let released = false;
      return {
        db: o.db,
        release() {
          if (released) return;
          released = true;
          o.users--;
          if (o.retired && o.users === 0) o.db.close();
        },
      };
    },
    close() {
      if (current) retire(current);
      current = null;
    },
  };
}
