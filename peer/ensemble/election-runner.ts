// Runs the FastLeaderElection core over the election transport: decodes notifications, executes
// the core's effects, ticks it, and reports the outcome. The core stays alive after an election
// so that members still looking learn who leads.

import type { Logger } from '../log.ts';
import { ElectionTransport } from '../net/election-transport.ts';
import {
  type ElectedState,
  type ElectionEffect,
  type ElectionInput,
  FastLeaderElection,
} from '../quorum/election.ts';
import { decodeNotification, ElectionWireError, encodeNotification } from '../quorum/election-wire.ts';
import type { QuorumConfig } from '../quorum/quorum-config.ts';

export interface ElectionOutcome {
  state: ElectedState;
  leader: number;
  electionEpoch: number;
  zxid: number;
  peerEpoch: number;
}

export interface ElectionRunnerOptions {
  mySid: number;
  config: QuorumConfig;
  log: Logger;
  tickMs?: number;
  /** Test hook: shorter notification backoff. */
  maxNotificationIntervalMs?: number;
}

export class ElectionRunner {
  private readonly opts: ElectionRunnerOptions;
  private readonly transport: ElectionTransport;
  private core: FastLeaderElection | null = null;
  private waiter: ((o: ElectionOutcome) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ElectionRunnerOptions) {
    this.opts = opts;
    const me = opts.config.members.get(opts.mySid);
    const addressOf = (sid: number) => {
      const m = opts.config.members.get(sid);
      return m?.electionPort ? { host: m.host, port: m.electionPort } : null;
    };
    this.transport = new ElectionTransport({
      mySid: opts.mySid,
      listen: me?.electionPort ? { host: me.host, port: me.electionPort } : null,
      addressOf,
      onMessage: (from, body) => this.onMessage(from, body),
      onConnected: (sid) => this.step({ type: 'connected', sid }),
      onDisconnected: (sid) => this.step({ type: 'disconnected', sid }),
      log: opts.log,
    });
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.timer = setInterval(() => this.step({ type: 'tick', now: Date.now() }), this.opts.tickMs ?? 50);
    this.timer.unref();
  }

  /** Starts a new election round and resolves with its outcome. */
  elect(lastZxid: number, currentEpoch: number): Promise<ElectionOutcome> {
    this.core = new FastLeaderElection({
      mySid: this.opts.mySid,
      config: this.opts.config,
      ...(this.opts.maxNotificationIntervalMs
        ? { maxNotificationIntervalMs: this.opts.maxNotificationIntervalMs }
        : {}),
    });
    const outcome = new Promise<ElectionOutcome>((resolve) => {
      this.waiter = resolve;
    });
    // A new round's core has to learn about links that are already up.
    for (const sid of this.transport.connectedSids()) this.step({ type: 'connected', sid });
    this.step({ type: 'start', lastZxid, currentEpoch });
    return outcome;
  }

  /** After Zab sync: the epoch this member now follows or leads in (FLE's peer epoch). */
  setPeerEpoch(epoch: number): void {
    this.step({ type: 'peer-epoch', epoch });
  }

  get state(): string {
    return this.core?.state ?? 'LOOKING';
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
        for (const sid of this.opts.config.members.keys()) this.transport.connect(sid);
        return;
      case 'done': {
        this.opts.log.info(
          { state: e.state, leader: e.leader, electionEpoch: e.electionEpoch, peerEpoch: e.peerEpoch },
          'election finished',
        );
        const w = this.waiter;
        this.waiter = null;
        w?.({
          state: e.state,
          leader: e.leader,
          electionEpoch: e.electionEpoch,
          zxid: e.zxid,
          peerEpoch: e.peerEpoch,
        });
        return;
      }
      case 'newer-config':
        // Dynamic reconfiguration (issue 4) adopts it; until then it is only reported.
        this.opts.log.warn(
          { from: e.from, version: e.version },
          'a member has a newer config; ignored for now',
        );
        return;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.core = null;
    await this.transport.close();
  }
}
