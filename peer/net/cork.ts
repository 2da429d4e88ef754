// Write batching for the peer's sockets (client connections, the raw client, quorum links): what a
// turn of the event loop writes to a socket leaves in one writev rather than one syscall per write.

import type { Writable } from 'node:stream';

/**
 * Corks the socket until the end of this tick, unless it is corked already: call it before each
 * write. Nothing else corks these sockets, so "corked" means "corked by an earlier write this tick".
 */
export function corkUntilNextTick(socket: Writable): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(uncork, socket);
}

function uncork(socket: Writable): void {
  socket.uncork();
}
