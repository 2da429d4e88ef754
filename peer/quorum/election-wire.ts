// Wire formats of leader election, as ZooKeeper's QuorumCnxManager and FastLeaderElection put them
// on the election port (zk-protocol.md §3.1, §3.2): the initial message a connecting member sends,
// the length-prefixed frames that follow, and the notification carried in each frame.
// All integers are big-endian. Longs that are votes or ids are numbers; the one non-safe value
// that occurs in practice, Long.MIN_VALUE (an observer's initial vote), is exactly representable
// as a double and is exported as LONG_MIN.

import { epochOf } from './zab-common.ts';

export class ElectionWireError extends Error {
  override name = 'ElectionWireError';
}

/** First long of the initial message without multiAddress (QuorumCnxManager.PROTOCOL_VERSION_V1). */
export const PROTOCOL_VERSION_V1 = -65536;
/** With multiAddress.enabled=true: several `host:port` joined by `|`. */
export const PROTOCOL_VERSION_V2 = -65535;
/** Largest address string a receiver accepts in the initial message (QuorumCnxManager.maxBuffer). */
export const MAX_INITIAL_ADDRESS_BYTES = 2048;
/** Largest frame a receiver accepts (QuorumCnxManager.PACKETMAXSIZE). */
export const PACKET_MAX_SIZE = 512 * 1024;
/** Long.MIN_VALUE: the leader, zxid and epoch an observer proposes at the start of an election. */
export const LONG_MIN = -(2 ** 63);
/** Notification.CURRENTVERSION. */
export const NOTIFICATION_VERSION = 2;

export type ServerState = 'LOOKING' | 'FOLLOWING' | 'LEADING' | 'OBSERVING';
/** ServerState ordinals, as sent in the first int of a notification. */
export const SERVER_STATES: readonly ServerState[] = ['LOOKING', 'FOLLOWING', 'LEADING', 'OBSERVING'];

function writeLong(b: Buffer, v: number, at: number): void {
  if (!Number.isInteger(v)) throw new ElectionWireError(`not an integer long: ${v}`);
  b.writeBigInt64BE(BigInt.asIntN(64, BigInt(v)), at);
}

function readLong(b: Buffer, at: number, what: string): number {
  const v = b.readBigInt64BE(at);
  const n = Number(v);
  if (Number.isSafeInteger(n) || n === LONG_MIN) return n;
  throw new ElectionWireError(`${what} ${v} is outside the range this implementation handles`);
}

// --- connection handshake (QuorumCnxManager.startConnection / handleConnection) ---

export interface InetAddr {
  host: string;
  port: number;
}

/** NetUtils.formatInetAddr: `host:port`, IPv6 literals in brackets. */
export function formatAddr(a: InetAddr): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface InitialMessage {
  /** PROTOCOL_VERSION_V1 or _V2; null for the legacy form (the first long is the sid itself). */
  protocolVersion: number | null;
  sid: number;
  /** Election addresses of the sender; wildcard addresses (0.0.0.0, ::) are left out, as ZooKeeper does. */
  addresses: InetAddr[];
  /**
   * Legacy observers sent Long.MAX_VALUE as their sid (QuorumPeer.OBSERVER_ID); ZooKeeper then
   * gives the connection a made-up negative sid. `sid` is NaN in that case.
   */
  legacyObserverId: boolean;
}

/**
 * The initial message a member sends right after connecting to another's election port:
 * protocol version, own sid, own election address(es). V1 sends only the first address.
 */
export function encodeInitialMessage(
  sid: number,
  addresses: readonly InetAddr[],
  protocolVersion: number = PROTOCOL_VERSION_V1,
): Buffer {
  if (protocolVersion !== PROTOCOL_VERSION_V1 && protocolVersion !== PROTOCOL_VERSION_V2)
    throw new ElectionWireError(`unknown protocol version ${protocolVersion}`);
  const list = protocolVersion === PROTOCOL_VERSION_V1 ? addresses.slice(0, 1) : addresses;
  const addr = Buffer.from(list.map(formatAddr).join('|'), 'utf8');
  const b = Buffer.alloc(20 + addr.length);
  writeLong(b, protocolVersion, 0);
  writeLong(b, sid, 8);
  b.writeInt32BE(addr.length, 16);
  addr.copy(b, 20);
  return b;
}

function isWildcard(host: string): boolean {
  return /^(0+\.0+\.0+\.0+|[0:]*::[0:]*|0+(:0+){7})$/.test(host);
}

export type InitialDecode = { complete: false } | { complete: true; message: InitialMessage; length: number };

/**
 * Decodes the initial message at the start of `buf` (bytes read so far from an accepted
 * connection). Returns `complete: false` while more bytes are needed; throws ElectionWireError for
 * what ZooKeeper refuses (it closes the connection): an unknown negative protocol version, an
 * address length outside 1..2048, an address that is not host:port.
 */
export function decodeInitialMessage(buf: Buffer): InitialDecode {
  if (buf.length < 8) return { complete: false };
  const first = buf.readBigInt64BE(0);
  if (first >= 0n) {
    const legacyObserverId = first === 0x7fffffffffffffffn;
    const sid = legacyObserverId ? Number.NaN : readLong(buf, 0, 'sid');
    return {
      complete: true,
      length: 8,
      message: { protocolVersion: null, sid, addresses: [], legacyObserverId },
    };
  }
  const protocolVersion = Number(first);
  if (protocolVersion !== PROTOCOL_VERSION_V1 && protocolVersion !== PROTOCOL_VERSION_V2)
    throw new ElectionWireError(`unrecognized protocol version ${first}`);
  if (buf.length < 20) return { complete: false };
  const sidBig = buf.readBigInt64BE(8);
  const legacyObserverId = sidBig === 0x7fffffffffffffffn;
  const sid = legacyObserverId ? Number.NaN : readLong(buf, 8, 'sid');
  const n = buf.readInt32BE(16);
  if (n <= 0 || n > MAX_INITIAL_ADDRESS_BYTES)
    throw new ElectionWireError(`unreasonable address length ${n}`);
  if (buf.length < 20 + n) return { complete: false };
  const text = buf.toString('utf8', 20, 20 + n);
  const addresses: InetAddr[] = [];
  for (const a of text.split('|')) {
    let hp: string[];
    if (a.startsWith('[')) {
      const i = a.indexOf(']');
      if (i < 0 || a[i + 1] !== ':' || i + 2 >= a.length)
        throw new ElectionWireError(`badly formed address: ${a}`);
      hp = [a.slice(1, i), ...a.slice(i + 2).split(':')];
    } else hp = a.split(':');
    if (hp.length !== 2) throw new ElectionWireError(`badly formed address: ${a}`);
    if (!/^\d+$/.test(hp[1]!)) throw new ElectionWireError(`bad port number: ${hp[1]}`);
    const port = Number(hp[1]);
    if (port > 65535) throw new ElectionWireError(`bad port number: ${hp[1]}`);
    if (!isWildcard(hp[0]!)) addresses.push({ host: hp[0]!, port });
  }
  return { complete: true, length: 20 + n, message: { protocolVersion, sid, addresses, legacyObserverId } };
}

/**
 * QuorumCnxManager keeps only connections initiated by the higher sid: a member dials (and keeps)
 * connections to members with a lower sid. To reach a member with a higher sid it may still
 * connect and send its initial message, then closes; the other side dials back.
 */
export function shouldInitiateConnection(mySid: number, otherSid: number): boolean {
  return mySid > otherSid;
}

/**
 * What the accepting side does with an incoming connection once it knows the remote sid:
 * keep it when the remote sid is higher; close it and dial back when lower; refuse its own sid
 * (a configuration error).
 */
export function incomingConnectionAction(mySid: number, remoteSid: number): 'keep' | 'dial-back' | 'refuse' {
  if (remoteSid === mySid) return 'refuse';
  return shouldInitiateConnection(remoteSid, mySid) ? 'keep' : 'dial-back';
}

// --- frames ---

/** A frame: int length (1..512 KiB), then that many bytes. */
export function encodeFrame(body: Buffer): Buffer {
  if (body.length <= 0 || body.length > PACKET_MAX_SIZE)
    throw new ElectionWireError(`frame length ${body.length} outside 1..${PACKET_MAX_SIZE}`);
  const b = Buffer.alloc(4 + body.length);
  b.writeInt32BE(body.length, 0);
  body.copy(b, 4);
  return b;
}

/**
 * Reads one frame at `offset`: its body and the offset after it, or null when `buf` does not hold
 * all of it yet. Throws for a length ZooKeeper refuses (it drops the connection).
 */
export function readFrame(buf: Buffer, offset = 0): { body: Buffer; next: number } | null {
  if (buf.length - offset < 4) return null;
  const n = buf.readInt32BE(offset);
  if (n <= 0 || n > PACKET_MAX_SIZE) throw new ElectionWireError(`received packet with invalid length ${n}`);
  if (buf.length - offset - 4 < n) return null;
  return { body: buf.subarray(offset + 4, offset + 4 + n), next: offset + 4 + n };
}

// --- notification (FastLeaderElection.buildMsg / WorkerReceiver) ---

export interface NotificationMessage {
  /** State of the sender. */
  state: ServerState;
  /** Proposed (LOOKING) or elected leader. */
  leader: number;
  /** Last zxid of that leader. */
  zxid: number;
  /** Sender's logical clock (election round). */
  electionEpoch: number;
  /** Epoch of the proposed leader. */
  peerEpoch: number;
  /** Message format version: 2 now; 0 for the 28- and 40-byte forms; 1 for version 1 (no config). */
  version: number;
  /** Config text of the sender (QuorumMaj.toString), or null when the message has none. */
  config: string | null;
}

/** A notification in the current format (version 2, with the config text; empty when null). */
export function encodeNotification(m: Omit<NotificationMessage, 'version'> & { version?: number }): Buffer {
  const config = Buffer.from(m.config ?? '', 'utf8');
  const b = Buffer.alloc(44 + config.length);
  b.writeInt32BE(SERVER_STATES.indexOf(m.state), 0);
  if (b.readInt32BE(0) < 0) throw new ElectionWireError(`unknown state ${m.state}`);
  writeLong(b, m.leader, 4);
  writeLong(b, m.zxid, 12);
  writeLong(b, m.electionEpoch, 20);
  writeLong(b, m.peerEpoch, 28);
  b.writeInt32BE(NOTIFICATION_VERSION, 36);
  b.writeInt32BE(config.length, 40);
  config.copy(b, 44);
  return b;
}

/** The frame QuorumCnxManager writes for a notification. */
export function encodeNotificationFrame(m: Omit<NotificationMessage, 'version'>): Buffer {
  return encodeFrame(encodeNotification(m));
}

/**
 * Decodes a notification body as ZooKeeper's WorkerReceiver does, accepting the older forms it
 * accepts: 28 bytes (no peerEpoch: taken from the zxid's epoch), 40 bytes (no version), version 1
 * (no config). Throws ElectionWireError for what it drops: fewer than 28 bytes, a truncated field,
 * a config length outside 0..message size, an unknown state.
 */
export function decodeNotification(body: Buffer): NotificationMessage {
  const size = body.length;
  if (size < 28) throw new ElectionWireError(`short notification: ${size} bytes`);
  const need = (n: number) => {
    if (size < n) throw new ElectionWireError(`truncated notification: ${size} bytes, needs ${n}`);
  };
  const stateOrdinal = body.readInt32BE(0);
  const leader = readLong(body, 4, 'leader');
  const zxid = readLong(body, 12, 'zxid');
  const electionEpoch = readLong(body, 20, 'electionEpoch');
  let peerEpoch: number;
  let version = 0;
  let config: string | null = null;
  if (size === 28) {
    peerEpoch = epochOf(zxid);
  } else {
    need(36);
    peerEpoch = readLong(body, 28, 'peerEpoch');
    if (size !== 40) {
      need(40);
      version = body.readInt32BE(36);
    }
  }
  if (version > 1) {
    need(44);
    const n = body.readInt32BE(40);
    if (n < 0 || n > size)
      throw new ElectionWireError(`invalid config length ${n} in a ${size}-byte notification`);
    need(44 + n);
    config = body.toString('utf8', 44, 44 + n);
  }
  const state = SERVER_STATES[stateOrdinal];
  if (state === undefined) throw new ElectionWireError(`unknown server state ${stateOrdinal}`);
  return { state, leader, zxid, electionEpoch, peerEpoch, version, config };
}
