// Runs the FastLeaderElection core over the election transport: decodes notifications, executes
// the core's effects, ticks it, and reports the outcome. The core stays alive after an election
// so that members still looking learn who leads.

import type { Logger } from '../log.ts';
import { type ElectionSecurity, ElectionTransport } from '../net/election-transport.ts';
import {
  type ElectionEffect,
  type ElectionInput,
  type ElectionOutcome,
  FastLeaderElection,
} from '../quorum/election.ts';
import { decodeNotification, ElectionWireError, encodeNotification } from '../quorum/election-wire.ts';
import type { QuorumConfig } from '../quorum/quorum-config.ts';

export interface ElectionRunnerOptions {
  mySid: number;
  /** The config in force now (it changes when a reconfig is activated). */
  config: () => QuorumConfig;
  log: Logger;
  /**
   * A member sent a config newer than ours: returns true when it was adopted, and the round
   * restarts under it.
   */
  onNewerConfig?: (text: string) => boolean;
  /** Bind the election port here instead of this member's host (quorumListenOnAllIPs). */
  listenHost?: string;
  /** Quorum TLS and the learner allow-list, for the election port too (default: neither). */
  security?: ElectionSecurity;
  /** An incoming election connection was refused (for logs and a counter). */
  onRefused?: (reason: string, address: string) => void;
}

/** How often the core is ticked: finalizeWait (200 ms) needs a finer clock. */
const TICK_MS = 50;

export class ElectionRunner {
  private readonly opts: ElectionRunnerOptions;
  private readonly transport: ElectionTransport;
  private core: FastLeaderElection | null = null;
  private waiter: ((o: ElectionOutcome) => void) | null = null;
  /** What the member reported when it started looking; a newer config restarts the round with it. */
  private round: { lastZxid: number; currentEpoch: number } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ElectionRunnerOptions) {
    this.opts = opts;
    const me = opts.config().members.get(opts.mySid);
    const addressOf = (sid: number) => {
      const m = opts.config().members.get(sid);
      return m?.electionPort ? { host: m.host, port: m.electionPort } : null;
    };
    this.transport = new ElectionTransport({
      mySid: opts.mySid,
      listen: me?.electionPort ? { host: opts.listenHost ?? me.host, port: me.electionPort } : null,
      addressOf,
      onMessage: (from, body) => this.onMessage(from, body),
      onConnected: (sid) => this.step({ type: 'connected', sid }),
      onDisconnected: (sid) => this.step({ type: 'disconnected', sid }),
      log: opts.log,
      security: opts.security,
      onRefused: opts.onRefused,
      localAddress: me?.host,
    });
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.timer = setInterval(() => this.step({ type: 'tick', now: Date.now() }), TICK_MS);
    this.timer.unref();
  }

  /** Starts a new election round and resolves with its outcome. */
  elect(lastZxid: number, currentEpoch: number): Promise<ElectionOutcome> {
    const outcome = new Promise<ElectionOutcome>((resolve) => {
      this.waiter = resolve;
    });
    this.round = { lastZxid, currentEpoch };
    this.newRound();
    return outcome;
  }

  private newRound(): void {
    this.core = new FastLeaderElection({ mySid: this.opts.mySid, config: this.opts.config() });
    // A new round's core has to learn about links that are already up.
    for (const sid of this.transport.connectedSids()) this.step({ type: 'connected', sid });
    this.step({ type: 'start', ...this.round! });
  }

  /** After Zab sync: the epoch this member now follows or leads in (FLE's peer epoch). */
  setPeerEpoch(epoch: number): void {
    this.step({ type: 'peer-epoch', epoch });
  }

  private onMessage(from: number, body: Buffer): void {
    try {
      this.step({ type: 'notification', from, message: decodeNotification(body) });
    } catch (e) {
      if (!(e instanceof ElectionWireError)) throw e;
      this.opts.log.warn({ from, err: e.message }, 'bad election notification ignored');
    }
  }

  private step(input: ElectionInput): void {
    const core = this.core;
    if (!core) return;
    const effects = core.step({ now: Date.now(), ...input } as ElectionInput);
    for (const e of effects) this.execute(e);
  }

  private execute(e: ElectionEffect): void {
    switch (e.type) {
      case 'send':
        this.transport.send(e.to, encodeNotification(e.message));
        return;
      case 'connect-all':
        for (const sid of this.opts.config().members.keys()) this.transport.connect(sid);
        return;
      case 'done': {
        this.opts.log.info(
          { state: e.state, leader: e.leader, electionEpoch: e.electionEpoch, peerEpoch: e.peerEpoch },
          'election finished',
        );
        const w = this.waiter;
        this.waiter = null;
        w?.(e);
        return;
      }
      case 'newer-config':
        // As ZooKeeper's FLE does: adopt it and look for a leader again under it.
        if (this.opts.onNewerConfig?.(e.config) && this.waiter && this.round) {
          this.opts.log.info(
            { from: e.from, version: e.version.toString(16) },
            'election restarts under a newer config',
          );
          this.newRound();
        }
        return;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.core = null;
    await this.transport.close();
  }
}
