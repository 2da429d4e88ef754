// Where the tree keeps znode data. A value decoded from a request or a txn is a slice of Node's
// shared 8 KiB Buffer pool, and that pool is also where every short-lived frame and reply comes
// from: one long-lived value pins the whole slab it landed in. Measured at 100k znodes of 100 B,
// that is 100 MB of slabs held for 10 MB of data. Copying each value into slabs only the tree
// uses keeps them dense: a slab is freed once every value in it has been replaced or deleted.

import { NULL_DATA } from '../jute/archive.ts';

/** Values this size or larger get their own allocation: few of them fill a slab. */
const OWN_ALLOCATION = 2048;
const SLAB_SIZE = 16 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let used = 0;

/** A copy of data that shares memory only with other tree values. */
export function keepValue(data: Buffer): Buffer {
  const n = data.length;
  // NULL_DATA is kept as it is: a null value (length -1 on the wire) is not an empty one.
  if (n === 0) return data === NULL_DATA ? NULL_DATA : EMPTY_VALUE;
  if (n >= OWN_ALLOCATION) {
    const own = Buffer.allocUnsafeSlow(n);
    data.copy(own);
    return own;
  }
  if (used + n > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const v = slab.subarray(used, used + n);
  data.copy(v);
  used += n;
  return v;
}

export const EMPTY_VALUE: Buffer = Buffer.alloc(0);
