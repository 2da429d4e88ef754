// Write batching for the peer's sockets (client connections, the raw client, quorum links): what a
// turn of the event loop writes to a socket leaves in one writev. A turn is everything libuv's poll
// phase delivered at once (every socket that became readable, every finished fsync), not a single
// callback: under load one ACK batch commits writes whose replies and COMMITs would otherwise leave
// in as many syscalls as there were packets read. (writev was the largest self entry, 18%, of the
// leader's CPU profile; that profile samples wall time, so part of it is the leader preempted in
// the syscall by the receiver it woke, not CPU spent.)

import type { Writable } from 'node:stream';

let corked: Writable[] = [];

/**
 * Corks the socket until this turn of the event loop is over, unless it is corked already: call it
 * before each write. Nothing else corks these sockets, so "corked" means "corked by an earlier write
 * this turn".
 */
export function corkUntilEndOfTurn(socket: Writable): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  // setImmediate runs after the poll phase, once every ready socket and fsync has been handled.
  if (corked.push(socket) === 1) setImmediate(uncorkAll);
}

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const s of sockets) s.uncork();
}
