// How a learner master brings a learner up to date: the choice of DIFF / TRUNC / SNAP.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideSync, type SyncPlan } from './learner-sync.ts';
import type { Proposal } from './zab-common.ts';
import { prop, z } from './zab-testutil.ts';

const zxids = (ps: readonly Proposal[]) => ps.map((p) => p.zxid);

function plan(p: SyncPlan) {
  return { mode: p.mode, zxid: p.zxid, proposals: zxids(p.proposals), lastZxid: p.lastZxid };
}

/** A plan that sends no txns and leaves the learner at `at`. */
const bare = (mode: SyncPlan['mode'], at: number) => ({ mode, zxid: at, proposals: [], lastZxid: at });

describe('decideSync: DIFF / TRUNC / SNAP per learner (LearnerHandler.syncFollower)', () => {
  // committedLog (1,1) (1,2) (1,3) (2,1) (2,2); the leader applied up to (2,2).
  const log = [prop(1, 1), prop(1, 2), prop(1, 3), prop(2, 1), prop(2, 2)];
  const src = { lastProcessedZxid: z(2, 2), committedLog: log };

  test('a. learner already at lastProcessedZxid: empty DIFF', () => {
    assert.deepEqual(plan(decideSync(z(2, 2), src)), bare('DIFF', z(2, 2)));
    const fresh = { lastProcessedZxid: 0, committedLog: [] };
    assert.deepEqual(plan(decideSync(0, fresh)), bare('DIFF', 0));
  });

  test('b. learner past the committed log: TRUNC to its end', () => {
    assert.deepEqual(plan(decideSync(z(2, 5), src)), bare('TRUNC', z(2, 2)));
    // An old leader of epoch 3 that proposed (3,1) and (3,2) nobody else logged.
    assert.equal(decideSync(z(3, 2), src).mode, 'TRUNC');
    // Empty committed log: min = max = lastProcessedZxid.
    const empty = { lastProcessedZxid: z(1, 4), committedLog: [] };
    assert.deepEqual(plan(decideSync(z(1, 9), empty)), bare('TRUNC', z(1, 4)));
  });

  test('b. ...but never for a learner at the start of an epoch (counter 0): it has no txn there', () => {
    assert.equal(decideSync(z(3, 0), src).mode, 'SNAP');
  });

  test('c. learner inside the committed log: DIFF with the txns it misses (zxid = maxCommittedLog)', () => {
    assert.deepEqual(plan(decideSync(z(1, 2), src)), {
      mode: 'DIFF',
      zxid: z(2, 2),
      proposals: [z(1, 3), z(2, 1), z(2, 2)],
      lastZxid: z(2, 2),
    });
    assert.deepEqual(plan(decideSync(z(1, 1), src)).proposals, [z(1, 2), z(1, 3), z(2, 1), z(2, 2)]);
  });

  test('c. learner at a new-epoch zxid inside the log: DIFF from the next txn', () => {
    assert.deepEqual(plan(decideSync(z(2, 0), src)), {
      mode: 'DIFF',
      zxid: z(2, 2),
      proposals: [z(2, 1), z(2, 2)],
      lastZxid: z(2, 2),
    });
  });

  test('c. learner with txns the leader lacks in an older epoch: TRUNC cannot cross epochs, so SNAP', () => {
    assert.deepEqual(plan(decideSync(z(1, 5), src)), bare('SNAP', z(2, 2)));
  });

  test('c. a same-epoch divergence: TRUNC to the previous txn, then the leader txns after it', () => {
    const gappy = {
      lastProcessedZxid: z(1, 6),
      committedLog: [prop(1, 1), prop(1, 2), prop(1, 5), prop(1, 6)],
    };
    assert.deepEqual(plan(decideSync(z(1, 3), gappy)), {
      mode: 'TRUNC',
      zxid: z(1, 2),
      proposals: [z(1, 5), z(1, 6)],
      lastZxid: z(1, 6),
    });
  });

  test('d. learner older than the committed log: txn log, then committed log', () => {
    const recent = { lastProcessedZxid: z(2, 2), committedLog: [prop(2, 1), prop(2, 2)] };
    const txnLog = [prop(1, 1), prop(1, 2), prop(1, 3), prop(2, 1), prop(2, 2)];
    assert.deepEqual(plan(decideSync(z(1, 2), { ...recent, txnLog })), {
      mode: 'DIFF',
      zxid: z(2, 2),
      proposals: [z(1, 3), z(2, 1), z(2, 2)],
      lastZxid: z(2, 2),
    });
    // The txn log walk stops at minCommittedLog; the committed log walk goes on from there.
    assert.deepEqual(plan(decideSync(z(1, 1), { ...recent, txnLog: txnLog.slice(0, 4) })).proposals, [
      z(1, 2),
      z(1, 3),
      z(2, 1),
      z(2, 2),
    ]);
  });

  test('d. ...falls back to SNAP when the txn log does not reach back or the learner diverged', () => {
    const recent = { lastProcessedZxid: z(2, 2), committedLog: [prop(2, 1), prop(2, 2)] };
    assert.equal(decideSync(z(1, 2), { ...recent, txnLog: null }).mode, 'SNAP');
    assert.equal(decideSync(z(1, 2), { ...recent, txnLog: [prop(1, 3), prop(2, 1)] }).mode, 'SNAP');
    assert.equal(decideSync(z(1, 2), { ...recent, txnLog: [] }).mode, 'SNAP');
    const txnLog = [prop(1, 1), prop(1, 2), prop(1, 3), prop(2, 1), prop(2, 2)];
    assert.equal(decideSync(z(1, 5), { ...recent, txnLog }).mode, 'SNAP');
  });

  test('e. anything else: SNAP at lastProcessedZxid', () => {
    assert.deepEqual(plan(decideSync(0, src)), bare('SNAP', z(2, 2)));
    assert.equal(decideSync(z(1, 1), { lastProcessedZxid: z(1, 4), committedLog: [] }).mode, 'SNAP');
  });
});
