// Sizes of the snapshot and txn-log directories, as ZooKeeper's `dirs` and `conf` report them: the
// sum of the lengths of the files directly in the directory (txn logs count their preallocation).
// Synchronous, as the four-letter words answer before the client's half-close ends the connection.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function directorySize(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let total = 0;
  for (const n of names) {
    try {
      const s = statSync(join(dir, n));
      if (s.isFile()) total += s.size;
    } catch {
      // Removed meanwhile (autopurge): not counted.
    }
  }
  return total;
}
