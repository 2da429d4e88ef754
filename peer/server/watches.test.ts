import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventType, WatcherType } from '../protocol/constants.ts';
import { WatchManager } from './watches.ts';

test('standard watches fire once; persistent ones stay', () => {
  const m = new WatchManager<string>();
  m.addData('/a', 'w1');
  m.addPersistent('/a', 'w2', false);
  assert.deepEqual([...m.trigger('/a', EventType.NodeDataChanged)].sort(), ['w1', 'w2']);
  assert.deepEqual([...m.trigger('/a', EventType.NodeDataChanged)], ['w2']);
  assert.deepEqual(
    [...m.trigger('/a', EventType.NodeChildrenChanged)],
    ['w2'],
    'persistent watches see child changes',
  );
});

test('a watcher with data and child watches gets one NodeDeleted', () => {
  const m = new WatchManager<string>();
  m.addData('/a', 'w');
  m.addChild('/a', 'w');
  assert.deepEqual([...m.trigger('/a', EventType.NodeDeleted)], ['w']);
  assert.equal(m.watchCount, 0);
});

test('recursive watches fire for descendants but never with NodeChildrenChanged', () => {
  const m = new WatchManager<string>();
  m.addPersistent('/r', 'w', true);
  m.addData('/r', 'plain');
  assert.deepEqual([...m.trigger('/r/x/y', EventType.NodeCreated)], ['w']);
  assert.deepEqual([...m.trigger('/r', EventType.NodeChildrenChanged)], []);
  assert.deepEqual([...m.trigger('/other', EventType.NodeCreated)], []);
  assert.deepEqual([...m.trigger('/r', EventType.NodeDataChanged)].sort(), ['plain', 'w']);
});

test('removeWatches and checkWatches by watcher type', () => {
  const m = new WatchManager<string>();
  m.addData('/a', 'w');
  assert.equal(m.matchWatch('/a', 'w', WatcherType.Children, false), false);
  assert.equal(m.matchWatch('/a', 'w', WatcherType.Data, false), true);
  assert.equal(m.matchWatch('/a', 'w', WatcherType.Data, true), true);
  assert.equal(m.matchWatch('/a', 'w', WatcherType.Any, false), false);
  m.addPersistent('/p', 'w', true);
  assert.equal(m.matchWatch('/p', 'w', WatcherType.Persistent, false), false);
  assert.equal(m.matchWatch('/p', 'w', WatcherType.PersistentRecursive, true), true);
  assert.deepEqual([...m.trigger('/p/x', EventType.NodeCreated)], []);
});

test('closing a connection drops all its watches', () => {
  const m = new WatchManager<string>();
  m.addData('/a', 'w');
  m.addChild('/b', 'w');
  m.addPersistent('/c', 'w', true);
  m.removeWatcher('w');
  assert.equal(m.watchCount, 0);
  assert.equal(m.data.recursiveCount, 0);
});
