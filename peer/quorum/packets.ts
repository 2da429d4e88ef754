// Quorum (Zab) packets between a leader and its learners, in ZooKeeper's formats (zk-protocol.md §2):
// the QuorumPacket jute record, its type constants (Leader.java), and the payloads some types carry
// (LearnerInfo, LEADERINFO, ACKEPOCH, REQUEST, REVALIDATE, PING touch tables, INFORMANDACTIVATE).
// Quorum packets have no length prefix: the stream is back-to-back jute records, so the socket side
// reads them with QuorumPacketDecoder, which also hands over the raw bytes after a SNAP packet (the
// snapshot body, read with persistence/snapstream.ts's SnapStreamReader).

import { DEFAULT_MAX_BUFFER, JuteError, JuteReader, JuteWriter } from '../jute/archive.ts';
import { type Id, readId, writeId } from '../jute/records.ts';
import { hex } from './zab-common.ts';

/** Packet types (Leader.java constants). */
export const PacketType = {
  REQUEST: 1,
  PROPOSAL: 2,
  ACK: 3,
  COMMIT: 4,
  PING: 5,
  REVALIDATE: 6,
  SYNC: 7,
  INFORM: 8,
  COMMITANDACTIVATE: 9,
  NEWLEADER: 10,
  FOLLOWERINFO: 11,
  UPTODATE: 12,
  DIFF: 13,
  TRUNC: 14,
  SNAP: 15,
  OBSERVERINFO: 16,
  LEADERINFO: 17,
  ACKEPOCH: 18,
  INFORMANDACTIVATE: 19,
} as const;

export type PacketTypeName = keyof typeof PacketType;

const NAMES = new Map<number, PacketTypeName>(
  Object.entries(PacketType).map(([k, v]) => [v, k as PacketTypeName]),
);

/** "PROPOSAL", or "UNKNOWN<n>" as LearnerHandler.packetToString prints unknown types. */
export function packetTypeName(type: number): string {
  return NAMES.get(type) ?? `UNKNOWN${type}`;
}

/** Zab protocol version a 3.4+ learner and leader announce (LearnerInfo, LEADERINFO). */
export const ZAB_PROTOCOL_VERSION = 0x10000;

/** `QuorumPacket { int type; long zxid; buffer data; vector<Id> authinfo }`. */
export interface QuorumPacket {
  type: number;
  zxid: number;
  data: Buffer | null;
  authinfo: Id[] | null;
}

export function packet(type: number, zxid: number, data: Buffer | null = null, authinfo: Id[] | null = null) {
  return { type, zxid, data, authinfo } satisfies QuorumPacket;
}

export function writeQuorumPacket(w: JuteWriter, p: QuorumPacket): void {
  w.int(p.type).long(p.zxid).buffer(p.data).vector(p.authinfo, writeId);
}

export function encodeQuorumPacket(p: QuorumPacket): Buffer {
  // type, zxid, data length, data, authinfo count: exact for every packet without authinfo.
  const w = new JuteWriter(20 + (p.data?.length ?? 0));
  writeQuorumPacket(w, p);
  return w.take();
}

export function readQuorumPacket(r: JuteReader): QuorumPacket {
  const type = r.int();
  const zxid = r.long();
  const data = r.buffer();
  const authinfo = r.vector(readId);
  return { type, zxid, data, authinfo };
}

/** Decodes exactly one packet that fills `bytes`. */
export function decodeQuorumPacket(bytes: Buffer, maxBuffer = QUORUM_MAX_BUFFER): QuorumPacket {
  const r = new JuteReader(bytes, 0, bytes.length, maxBuffer);
  const p = readQuorumPacket(r);
  if (r.remaining !== 0) throw new JuteError(`${r.remaining} bytes after the quorum packet`);
  return p;
}

/**
 * Largest buffer or string length a quorum reader accepts by default: ZooKeeper's
 * BinaryInputArchive allows jute.maxbuffer plus zookeeper.jute.maxbuffer.extrasize, which defaults
 * to jute.maxbuffer (and is never below 1024).
 */
export const QUORUM_MAX_BUFFER = DEFAULT_MAX_BUFFER + Math.max(1024, DEFAULT_MAX_BUFFER);

export interface DecoderOptions {
  /** Largest data buffer or authinfo string accepted (jute.maxbuffer + extrasize). */
  maxBuffer?: number;
  /** Largest authinfo vector accepted; default 1024 ids. */
  maxAuthIds?: number;
}

/**
 * Splits a byte stream into QuorumPackets. push() the bytes as they arrive, then call next() until
 * it returns null. Lengths are checked as soon as they are readable, so a corrupt or hostile length
 * fails at once rather than after buffering it. After a SNAP packet, takeRest() detaches the bytes
 * buffered so far (the start of the snapshot body); once the body and its signature have been read,
 * push() the bytes that followed them (SnapStreamReader.rest) and go on with next().
 */
export class QuorumPacketDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private readonly maxBuffer: number;
  private readonly maxAuthIds: number;

  constructor(opts: DecoderOptions = {}) {
    this.maxBuffer = opts.maxBuffer ?? QUORUM_MAX_BUFFER;
    this.maxAuthIds = opts.maxAuthIds ?? 1024;
  }

  /** Bytes buffered and not yet returned as packets. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const have = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      if (have + chunk.length <= this.buf.length && this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        let size = Math.max(256, this.buf.length);
        while (size < have + chunk.length) size *= 2;
        const next = Buffer.allocUnsafe(size);
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = have;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next complete packet, or null when more bytes are needed. Throws JuteError on bad input. */
  next(): QuorumPacket | null {
    const size = this.measure();
    if (size < 0) return null;
    const r = new JuteReader(this.buf, this.start, this.start + size, this.maxBuffer);
    const p = readQuorumPacket(r);
    this.start += size;
    if (this.start === this.end) this.start = this.end = 0;
    return p;
  }

  /** All packets complete so far. */
  drain(): QuorumPacket[] {
    const out: QuorumPacket[] = [];
    for (let p = this.next(); p !== null; p = this.next()) out.push(p);
    return out;
  }

  /** Removes and returns every buffered byte (used after SNAP: the snapshot body starts there). */
  takeRest(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.start, this.end));
    this.start = this.end = 0;
    return rest;
  }

  /** Total size of the packet at `start`, or -1 if it is not complete yet. */
  private measure(): number {
    const b = this.buf;
    const end = this.end;
    let at = this.start + 12; // int type, long zxid
    if (at + 4 > end) return -1;
    at += 4 + this.lengthAt(at, 'data');
    if (at + 4 > end) return -1;
    const count = b.readInt32BE(at);
    at += 4;
    if (count !== -1) {
      if (count < 0 || count > this.maxAuthIds) throw new JuteError(`quorum packet authinfo count ${count}`);
      for (let i = 0; i < 2 * count; i++) {
        if (at + 4 > end) return -1;
        at += 4 + this.lengthAt(at, i % 2 === 0 ? 'authinfo scheme' : 'authinfo id');
      }
    }
    if (at > end) return -1;
    return at - this.start;
  }

  /** The buffer or string length at `at` (0 for null). */
  private lengthAt(at: number, what: string): number {
    const n = this.buf.readInt32BE(at);
    if (n === -1) return 0;
    if (n < 0 || n > this.maxBuffer) throw new JuteError(`quorum packet ${what} length ${n} out of bounds`);
    return n;
  }
}

// --- payloads ---

/** `LearnerInfo { long serverid; int protocolVersion; long configVersion }` (20 bytes). */
export interface LearnerInfo {
  sid: number;
  protocolVersion: number;
  configVersion: number;
}

export function encodeLearnerInfo(li: LearnerInfo): Buffer {
  return new JuteWriter(20).long(li.sid).int(li.protocolVersion).long(li.configVersion).take();
}

/**
 * LearnerInfo as LearnerHandler reads it, positionally: 8 bytes give the sid, 12 the protocol
 * version, 20 the config version. Missing fields are null (protocol version 0x1 is ZooKeeper's
 * default for a learner that sends none). Null data gives null.
 */
export function decodeLearnerInfo(
  data: Buffer | null,
): { sid: number | null; protocolVersion: number; configVersion: number | null } | null {
  if (data === null) return null;
  const r = new JuteReader(data);
  const sid = data.length >= 8 ? r.long() : null;
  const protocolVersion = data.length >= 12 ? r.int() : 0x1;
  const configVersion = data.length >= 20 ? r.long() : null;
  return { sid, protocolVersion, configVersion };
}

function int4(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(v | 0, 0);
  return b;
}

function readInt4(data: Buffer | null, what: string): number {
  if (data === null || data.length < 4) throw new JuteError(`${what} needs 4 bytes of data`);
  return data.readInt32BE(0);
}

/** LEADERINFO data: int protocol version. */
export function encodeLeaderInfo(protocolVersion = ZAB_PROTOCOL_VERSION): Buffer {
  return int4(protocolVersion);
}

export function decodeLeaderInfo(data: Buffer | null): number {
  return readInt4(data, 'LEADERINFO');
}

/** ACKEPOCH data: int currentEpoch, or -1 for "already accepted this epoch" (does not count). */
export function encodeAckEpoch(currentEpoch: number): Buffer {
  return int4(currentEpoch);
}

export function decodeAckEpoch(data: Buffer | null): number {
  return readInt4(data, 'ACKEPOCH');
}

/** A client request forwarded by a learner (REQUEST data, Learner.request). */
export interface ForwardedRequest {
  sessionId: bigint;
  cxid: number;
  /** Op code of the request. */
  type: number;
  /** The request record bytes exactly as the client sent them after its RequestHeader. */
  body: Buffer;
  /** The client connection's ids (QuorumPacket.authinfo). */
  authinfo: Id[] | null;
}

export function requestPacket(req: ForwardedRequest): QuorumPacket {
  const w = new JuteWriter(16 + req.body.length);
  w.bigLong(req.sessionId).int(req.cxid).int(req.type).raw(req.body);
  return packet(PacketType.REQUEST, -1, w.take(), req.authinfo);
}

/** The op code of a forwarded request, without decoding the rest (an observer master relays it as is). */
export function forwardedRequestType(p: QuorumPacket): number {
  if (p.data === null || p.data.length < 16) throw new JuteError('REQUEST needs at least 16 bytes of data');
  return p.data.readInt32BE(12);
}

export function decodeRequest(p: QuorumPacket): ForwardedRequest {
  const type = forwardedRequestType(p);
  const data = p.data!;
  return {
    sessionId: data.readBigInt64BE(0),
    cxid: data.readInt32BE(8),
    type,
    body: Buffer.from(data.subarray(16)),
    authinfo: p.authinfo,
  };
}

/** REVALIDATE from a learner: `long sessionId, int timeout`. */
export function encodeRevalidateRequest(sessionId: bigint, timeout: number): Buffer {
  return new JuteWriter(12).bigLong(sessionId).int(timeout).take();
}

export function decodeRevalidateRequest(data: Buffer | null): { sessionId: bigint; timeout: number } {
  if (data === null || data.length < 12) throw new JuteError('REVALIDATE request needs 12 bytes of data');
  return { sessionId: data.readBigInt64BE(0), timeout: data.readInt32BE(8) };
}

/** REVALIDATE reply from the leader: `long sessionId, boolean valid` (9 bytes). */
export function encodeRevalidateReply(sessionId: bigint, valid: boolean): Buffer {
  return new JuteWriter(9).bigLong(sessionId).bool(valid).take();
}

export function decodeRevalidateReply(data: Buffer | null): { sessionId: bigint; valid: boolean } {
  if (data === null || data.length < 9) throw new JuteError('REVALIDATE reply needs 9 bytes of data');
  return { sessionId: data.readBigInt64BE(0), valid: data[8] !== 0 };
}

/** One entry of a learner's PING reply: a session touched since the previous ping. */
export interface SessionTouch {
  sessionId: bigint;
  timeout: number;
}

/** PING reply data: `(long sessionId, int timeout)` pairs, no count; empty table -> empty data. */
export function encodeTouchTable(touches: Iterable<SessionTouch>): Buffer {
  const w = new JuteWriter(12 * 8);
  for (const t of touches) w.bigLong(t.sessionId).int(t.timeout);
  return w.take();
}

/** Reads a touch table; a trailing partial entry is an error (ZooKeeper's DataInputStream would fail). */
export function decodeTouchTable(data: Buffer | null): SessionTouch[] {
  if (data === null) return [];
  if (data.length % 12 !== 0) throw new JuteError(`PING touch table of ${data.length} bytes`);
  const out: SessionTouch[] = [];
  for (let at = 0; at < data.length; at += 12) {
    out.push({ sessionId: data.readBigInt64BE(at), timeout: data.readInt32BE(at + 8) });
  }
  return out;
}

/** COMMITANDACTIVATE data: long designated-leader sid. */
export function encodeCommitAndActivate(designatedLeader: number): Buffer {
  return new JuteWriter(8).long(designatedLeader).take();
}

export function decodeCommitAndActivate(data: Buffer | null): number {
  if (data === null || data.length < 8) throw new JuteError('COMMITANDACTIVATE needs 8 bytes of data');
  return new JuteReader(data).long();
}

/** INFORM data is the proposal's txn bytes as they are; INFORMANDACTIVATE puts the sid first. */
export function encodeInformAndActivate(designatedLeader: number, txn: Buffer): Buffer {
  return new JuteWriter(8 + txn.length).long(designatedLeader).raw(txn).take();
}

export function decodeInformAndActivate(data: Buffer | null): { designatedLeader: number; txn: Buffer } {
  if (data === null || data.length < 8) throw new JuteError('INFORMANDACTIVATE needs at least 8 bytes');
  return { designatedLeader: new JuteReader(data).long(), txn: Buffer.from(data.subarray(8)) };
}

/** One-line description of a packet for logs. */
export function describePacket(p: QuorumPacket): string {
  return `${packetTypeName(p.type)} ${hex(p.zxid)}${p.data ? ` (${p.data.length} bytes)` : ''}`;
}
