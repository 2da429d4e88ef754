// The part of node-zookeeper-client (a CommonJS package without type declarations) that the tests use.

declare module 'node-zookeeper-client' {
  import type { EventEmitter } from 'node:events';

  export interface Stat {
    czxid: Buffer;
    mzxid: Buffer;
    ctime: Buffer;
    mtime: Buffer;
    version: number;
    cversion: number;
    aversion: number;
    ephemeralOwner: Buffer;
    dataLength: number;
    numChildren: number;
    pzxid: Buffer;
  }

  export interface ZkError extends Error {
    getCode(): number;
    getName(): string;
    getPath(): string | undefined;
  }

  export interface ZkEvent {
    type: number;
    name: string;
    path: string;
    getType(): number;
    getName(): string;
    getPath(): string;
  }

  export class Id {
    constructor(scheme: string, id: string);
    scheme: string;
    id: string;
  }

  export class ACL {
    constructor(permission: number, id: Id);
    permission: number;
    id: Id;
    static OPEN_ACL_UNSAFE: ACL[];
    static READ_ACL_UNSAFE: ACL[];
  }

  export interface TransactionResult {
    type: number;
    path?: string;
    stat?: Stat;
    err?: number;
  }

  export interface Transaction {
    create(path: string, data?: Buffer, acls?: ACL[], mode?: number): Transaction;
    check(path: string, version?: number): Transaction;
    setData(path: string, data: Buffer | null, version?: number): Transaction;
    remove(path: string, version?: number): Transaction;
    commit(cb: (err: ZkError | null, results: TransactionResult[]) => void): void;
  }

  export type Watcher = (event: ZkEvent) => void;

  export interface Client extends EventEmitter {
    connect(): void;
    close(): void;
    getSessionId(): Buffer;
    getSessionPassword(): Buffer;
    getSessionTimeout(): number;
    addAuthInfo(scheme: string, auth: Buffer): void;
    create(
      path: string,
      data: Buffer,
      acls: ACL[],
      mode: number,
      cb: (err: ZkError | null, path: string) => void,
    ): void;
    create(path: string, data: Buffer, mode: number, cb: (err: ZkError | null, path: string) => void): void;
    create(path: string, data: Buffer, cb: (err: ZkError | null, path: string) => void): void;
    remove(path: string, version: number, cb: (err: ZkError | null) => void): void;
    setData(path: string, data: Buffer, version: number, cb: (err: ZkError | null, stat: Stat) => void): void;
    getData(
      path: string,
      watcher: Watcher | undefined,
      cb: (err: ZkError | null, data: Buffer, stat: Stat) => void,
    ): void;
    getChildren(
      path: string,
      watcher: Watcher | undefined,
      cb: (err: ZkError | null, children: string[], stat: Stat) => void,
    ): void;
    exists(
      path: string,
      watcher: Watcher | undefined,
      cb: (err: ZkError | null, stat: Stat | null) => void,
    ): void;
    getACL(path: string, cb: (err: ZkError | null, acls: ACL[], stat: Stat) => void): void;
    setACL(path: string, acls: ACL[], version: number, cb: (err: ZkError | null, stat: Stat) => void): void;
    mkdirp(path: string, cb: (err: ZkError | null, path: string) => void): void;
    transaction(): Transaction;
  }

  export interface ClientOptions {
    sessionTimeout?: number;
    spinDelay?: number;
    retries?: number;
  }

  export function createClient(connectionString: string, options?: ClientOptions): Client;

  export const CreateMode: {
    PERSISTENT: number;
    PERSISTENT_SEQUENTIAL: number;
    EPHEMERAL: number;
    EPHEMERAL_SEQUENTIAL: number;
  };
  export const Permission: {
    READ: number;
    WRITE: number;
    CREATE: number;
    DELETE: number;
    ADMIN: number;
    ALL: number;
  };
  export const Event: {
    NODE_CREATED: number;
    NODE_DELETED: number;
    NODE_DATA_CHANGED: number;
    NODE_CHILDREN_CHANGED: number;
  };
  export const Exception: {
    OK: number;
    NO_NODE: number;
    NO_AUTH: number;
    BAD_VERSION: number;
    NODE_EXISTS: number;
    NOT_EMPTY: number;
    NO_CHILDREN_FOR_EPHEMERALS: number;
    RUNTIME_INCONSISTENCY: number;
  };

  const zookeeper: {
    createClient: typeof createClient;
    ACL: typeof ACL;
    Id: typeof Id;
    CreateMode: typeof CreateMode;
    Permission: typeof Permission;
    Event: typeof Event;
    Exception: typeof Exception;
  };
  export default zookeeper;
}
