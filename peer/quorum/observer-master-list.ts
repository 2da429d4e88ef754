// Whom an observer syncs from when `observerMasterPort` is set (zk-protocol.md §2.9): the voters,
// each at its quorum host and that port, in a shuffled order tried round robin, so that the
// observers of an ensemble spread over its followers (QuorumPeer.updateObserverMasterList,
// nextObserverMaster). The order is shuffled again when the voters change.
//
// The leader is skipped: as in ZooKeeper, only followers run an observer master, so the leader's
// entry could only fail (ZooKeeper's observer tries it anyway, fails, and moves on after another
// election). With no other voter at all, the observer connects to the leader's quorum port, as it
// does without observer masters: a one-voter ensemble's observers have nobody else to sync from.

import type { QuorumConfig } from './quorum-config.ts';

export interface MasterAddress {
  sid: number;
  host: string;
  port: number;
}

export class ObserverMasterList {
  private readonly random: () => number;
  private order: number[] = [];
  private votersKey = '';
  private next = 0;

  /** random: a uniform number in [0, 1), Math.random in the shell (a seeded one in tests). */
  constructor(random: () => number) {
    this.random = random;
  }

  /** The master to try next for this config and leader (null: connect to the leader itself). */
  pick(config: QuorumConfig, port: number, leaderSid: number): MasterAddress | null {
    const voters = [...config.members.values()].filter((m) => m.role === 'participant').map((m) => m.sid);
    voters.sort((a, b) => a - b);
    const key = voters.join(',');
    if (key !== this.votersKey) {
      this.votersKey = key;
      this.order = shuffle(voters, this.random);
      this.next = 0;
    }
    for (let tried = 0; tried < this.order.length; tried++) {
      const sid = this.order[this.next]!;
      this.next = (this.next + 1) % this.order.length;
      if (sid === leaderSid) continue;
      const m = config.members.get(sid)!;
      return { sid, host: m.host, port };
    }
    return null;
  }
}

/** Fisher–Yates. */
function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
