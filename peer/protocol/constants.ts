// Numeric constants of ZooKeeper's client protocol (ZooDefs, KeeperException.Code, Watcher).

export const OpCode = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

export const Err = {
  OK: 0,
  SYSTEMERROR: -1,
  RUNTIMEINCONSISTENCY: -2,
  DATAINCONSISTENCY: -3,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  UNKNOWNSESSION: -12,
  NEWCONFIGNOQUORUM: -13,
  RECONFIGINPROGRESS: -14,
  APIERROR: -100,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDCALLBACK: -113,
  INVALIDACL: -114,
  AUTHFAILED: -115,
  SESSIONMOVED: -118,
  NOTREADONLY: -119,
  EPHEMERALONLOCALSESSION: -120,
  NOWATCHER: -121,
  REQUESTTIMEOUT: -122,
  RECONFIGDISABLED: -123,
  SESSIONCLOSEDREQUIRESASLAUTH: -124,
  QUOTAEXCEEDED: -125,
  THROTTLEDOP: -127,
} as const;

/** A failed operation, carrying ZooKeeper's error code. */
export class KeeperError extends Error {
  override name = 'KeeperError';
  readonly code: number;
  constructor(code: number, message?: string) {
    super(message ?? errorName(code));
    this.code = code;
  }
}

export function errorName(code: number): string {
  for (const [name, value] of Object.entries(Err)) if (value === code) return name;
  return `ERROR(${code})`;
}

export const Xid = { notification: -1, ping: -2, auth: -4, setWatches: -8 } as const;

export const EventType = {
  None: -1,
  NodeCreated: 1,
  NodeDeleted: 2,
  NodeDataChanged: 3,
  NodeChildrenChanged: 4,
} as const;

export const KeeperState = { SyncConnected: 3 } as const;

/** WatcherType, as used by checkWatches and removeWatches. */
export const WatcherType = { Children: 1, Data: 2, Any: 3, Persistent: 4, PersistentRecursive: 5 } as const;

export const AddWatchMode = { Persistent: 0, PersistentRecursive: 1 } as const;

export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export const CreateFlags = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;

/** ephemeralOwner of a container node. */
export const CONTAINER_OWNER = -0x8000000000000000n;
/** Top byte of a TTL node's ephemeralOwner; the low 40 bits hold the TTL. */
export const TTL_OWNER_TAG = -0x100000000000000n; // 0xFF00000000000000 as a signed long
export const MAX_TTL = 0xffffffffff;

export function isTtlOwner(owner: bigint): boolean {
  return (owner & -0x1000000000000n) === TTL_OWNER_TAG; // top byte 0xFF, bits 40..55 zero
}

export function ttlOf(owner: bigint): number {
  return Number(owner & 0xffffffffffn);
}

/** The four-letter words, keyed by the int value of their 4 ASCII bytes. */
export const FOUR_LETTER_WORDS = [
  'conf',
  'cons',
  'crst',
  'dirs',
  'dump',
  'envi',
  'gtmk',
  'stmk',
  'ruok',
  'srvr',
  'srst',
  'stat',
  'wchc',
  'wchp',
  'wchs',
  'mntr',
  'isro',
  'hash',
] as const;
