// Who may connect as a learner to a leader or observer master: an address allow-list, quorum TLS
// with client certificates (like ZooKeeper's sslQuorum), and optionally a shared secret proved by
// HMAC over a fresh nonce. Refusals are reported to the caller, which logs and counts them.
//
// A connection closed before it sent a single byte is not a refusal: observers measure their round
// trip to each observer master by opening a connection and closing it at once
// (peer/ensemble/master-probe.ts), and so do TCP health checks. Such a connection is closed
// quietly, neither counted nor logged as refused.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { rawSetting } from '../config/zoocfg.ts';
import { type Cidr, inAllowList, parseAllowList } from './cidr.ts';

export interface QuorumTls {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
  hostnameVerification: boolean;
}

export interface LearnerSecurity {
  /** null: any address may connect. */
  allowList: Cidr[] | null;
  /** null: no shared-secret proof is asked for. */
  secret: Buffer | null;
  /** null: plain TCP. */
  tls: QuorumTls | null;
}

export class SecurityConfigError extends Error {
  override name = 'SecurityConfigError';
}

/**
 * Reads the learner security settings from zoo.cfg keys: `learner.allowList` (CIDRs),
 * `learner.sharedSecretFile`, and ZooKeeper's `sslQuorum` with PEM `ssl.quorum.keyStore.location`
 * (key and certificate in one file), `ssl.quorum.trustStore.location` (CA certificates) and
 * `ssl.quorum.hostnameVerification`.
 */
export function learnerSecurityFromConfig(raw: ReadonlyMap<string, string>): LearnerSecurity {
  const get = (k: string) => rawSetting(raw, k);
  let allowList: Cidr[] | null = null;
  const allow = get('learner.allowList');
  if (allow !== undefined) {
    try {
      allowList = parseAllowList(allow);
    } catch (e) {
      throw new SecurityConfigError(`learner.allowList: ${(e as Error).message}`);
    }
  }
  const secretFile = get('learner.sharedSecretFile');
  const secret = secretFile === undefined ? null : readSecret(secretFile);
  let tlsCfg: QuorumTls | null = null;
  if ((get('sslQuorum') ?? 'false').toLowerCase() === 'true') {
    const keyStore = get('ssl.quorum.keyStore.location');
    const trustStore = get('ssl.quorum.trustStore.location');
    if (!keyStore || !trustStore) {
      throw new SecurityConfigError(
        'sslQuorum=true needs ssl.quorum.keyStore.location and ssl.quorum.trustStore.location',
      );
    }
    const pem = readPem(keyStore);
    tlsCfg = {
      key: pem,
      cert: pem,
      ca: readPem(trustStore),
      hostnameVerification: (get('ssl.quorum.hostnameVerification') ?? 'true').toLowerCase() !== 'false',
    };
  }
  return { allowList, secret, tls: tlsCfg };
}

function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SecurityConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function readSecret(path: string): Buffer {
  const s = readPem(path).toString('utf8').trim();
  if (s.length < 16) throw new SecurityConfigError(`shared secret in ${path} is shorter than 16 characters`);
  return Buffer.from(s, 'utf8');
}

export function serverTlsOptions(t: QuorumTls): tls.TlsOptions {
  return {
    key: t.key,
    cert: t.cert,
    ca: t.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

/**
 * A listener for a quorum or election port: mutual TLS with quorum TLS, else plain TCP. A failed
 * TLS handshake is passed to onHandshakeFailed with its refusal text (`TLS: ...`, which
 * refusal-reason.ts reads as tls_handshake).
 */
export function quorumServer(
  t: QuorumTls | null,
  onSocket: (socket: net.Socket) => void,
  onHandshakeFailed: (reason: string, socket: tls.TLSSocket) => void,
): net.Server {
  if (!t) return net.createServer(onSocket);
  const server = tls.createServer(serverTlsOptions(t), onSocket);
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) =>
    onHandshakeFailed(`TLS: ${err.message}`, socket),
  );
  return server;
}

/**
 * The address to dial from: a member's own address, so that allow-lists mean what they say.
 * Sockets bind only to an IP, so a host name (a pod's DNS name) is resolved first.
 */
export async function bindAddress(own: string): Promise<string> {
  return net.isIP(own) ? own : (await lookup(own)).address;
}

export function clientTlsOptions(t: QuorumTls): tls.ConnectionOptions {
  return {
    key: t.key,
    cert: t.cert,
    ca: t.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(t.hostnameVerification ? {} : { checkServerIdentity: () => undefined }),
  };
}

const MAGIC = Buffer.from('ZKEsecr1', 'ascii');
const NONCE_BYTES = 32;

function proof(secret: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', secret).update(nonce).update('learner').digest();
}

/** The peer closed (or reset) the connection before sending anything. */
class ClosedBeforeAnyByte extends Error {
  override name = 'ClosedBeforeAnyByte';
}

const TIMED_OUT = 'learner handshake timed out';

/** Reads exactly n bytes; bytes that follow are put back for the next reader. */
function readExactly(socket: net.Socket, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const done = (err: Error | null, value?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err && have === 0 && err.message !== TIMED_OUT) reject(new ClosedBeforeAnyByte(err.message));
      else if (err) reject(err);
      else resolve(value!);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (have < n) return;
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      done(null, all.subarray(0, n));
    };
    const onClose = () => done(new Error('connection closed during the learner handshake'));
    const onError = (e: Error) => done(e);
    const timer = setTimeout(() => done(new Error(TIMED_OUT)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.resume();
  });
}

/**
 * The checks that need no exchange of messages: the address allow-list and, on TLS sockets, the
 * client certificate (verified by the TLS layer). The reason for a refusal, or null. The election
 * port applies these too.
 */
export function screenConnection(
  socket: net.Socket,
  sec: Pick<LearnerSecurity, 'allowList' | 'tls'>,
): string | null {
  const address = socket.remoteAddress ?? 'unknown';
  if (sec.allowList && !inAllowList(sec.allowList, address)) return 'address not in learner.allowList';
  if (sec.tls && !(socket as tls.TLSSocket).authorized) return 'no valid client certificate';
  return null;
}

/**
 * Leader side: decides whether a freshly accepted learner connection may proceed. For TLS sockets
 * the client certificate was already verified by the TLS layer. 'refused' (reported to onRefused)
 * and 'closed' (the peer left before sending anything) close the socket.
 */
export async function admitLearner(
  socket: net.Socket,
  sec: LearnerSecurity,
  onRefused: (reason: string, address: string) => void,
  timeoutMs = 5000,
): Promise<'admitted' | 'refused' | 'closed'> {
  const address = socket.remoteAddress ?? 'unknown';
  const refuse = (reason: string) => {
    onRefused(reason, address);
    socket.destroy();
    return 'refused' as const;
  };
  const screened = screenConnection(socket, sec);
  if (screened) return refuse(screened);
  if (!sec.secret) {
    // A learner speaks first (FOLLOWERINFO, OBSERVERINFO): wait for that, so that a probe's
    // connection is not admitted as a learner.
    if (await closesBeforeSending(socket, timeoutMs)) {
      socket.destroy();
      return 'closed';
    }
    return 'admitted';
  }
  const nonce = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, nonce]));
  let answer: Buffer;
  try {
    answer = await readExactly(socket, 32, timeoutMs);
  } catch (e) {
    if (!(e instanceof ClosedBeforeAnyByte)) return refuse((e as Error).message);
    socket.destroy();
    return 'closed';
  }
  if (!timingSafeEqual(answer, proof(sec.secret, nonce))) return refuse('wrong shared secret');
  return 'admitted';
}

/**
 * Waits for the first bytes (put back for the next reader): false once they come, or after
 * timeoutMs (the learner protocol's own timeouts deal with a silent peer); true if the peer closes
 * (or resets) the connection first.
 */
function closesBeforeSending(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onClosed);
      socket.pause();
      resolve(closed);
    };
    const onData = (c: Buffer) => {
      socket.pause();
      socket.unshift(c);
      done(false);
    };
    const onClosed = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onClosed);
    socket.once('close', onClosed);
    socket.once('error', onClosed);
    socket.resume();
  });
}

/** Learner side: answers the leader's shared-secret challenge, when a secret is configured. */
export async function proveToLeader(
  socket: net.Socket,
  sec: LearnerSecurity,
  timeoutMs = 5000,
): Promise<void> {
  if (!sec.secret) return;
  const challenge = await readExactly(socket, MAGIC.length + NONCE_BYTES, timeoutMs);
  if (!challenge.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(
      'the leader did not send a shared-secret challenge (is learner.sharedSecretFile set on both?)',
    );
  }
  socket.write(proof(sec.secret, challenge.subarray(MAGIC.length)));
}
