// Helpers for the Zab unit tests and the simulation.

import { type QuorumConfig, type QuorumMember, QuorumVerifier } from './quorum-config.ts';
import { makeZxid, type Proposal } from './zab-common.ts';

/** A verifier for voters and observers on 127.0.0.1 (ports are irrelevant to the cores). */
export function verifierFor(voters: readonly number[], observers: readonly number[] = [], version = 0) {
  const members = new Map<number, QuorumMember>();
  for (const sid of [...voters, ...observers]) {
    members.set(sid, {
      sid,
      host: '127.0.0.1',
      quorumPort: 2888 + sid * 10,
      electionPort: 3888 + sid * 10,
      role: observers.includes(sid) ? 'observer' : 'participant',
      clientAddress: null,
      clientPort: null,
    });
  }
  const config: QuorumConfig = { members, version };
  return new QuorumVerifier(config);
}

/** zxid (epoch, counter). */
export const z = makeZxid;

/** A proposal whose data names its zxid (enough for tests that do not decode txns). */
export function prop(epoch: number, counter: number): Proposal {
  return { zxid: makeZxid(epoch, counter), data: Buffer.from(`txn ${epoch}.${counter}`) };
}
