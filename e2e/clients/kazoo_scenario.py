#!/usr/bin/python3
"""Drives a ZooKeeper-compatible server with the unmodified kazoo client library.

Usage: kazoo_scenario.py HOST:PORT
Prints one JSON object: for every section, the values observed (or the error met).
The caller (e2e/clients.test.ts) asserts on them. Every wait here is bounded.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException
from kazoo.security import ACL, Id, Permissions, make_digest_acl

HOSTS = sys.argv[1]
WAIT = 15.0  # seconds, the bound of every single wait

logging.basicConfig(level=logging.CRITICAL)


def client(**kw):
    c = KazooClient(hosts=HOSTS, timeout=WAIT, **kw)
    c.start(timeout=WAIT)
    return c


def err_name(fn):
    """Runs fn and returns the name of the exception it raised, or 'no error'."""
    try:
        fn()
    except KazooException as e:
        return type(e).__name__
    return 'no error'


def stat_of(stat):
    if stat is None:
        return None
    return {
        'version': stat.version,
        'cversion': stat.cversion,
        'aversion': stat.aversion,
        'dataLength': stat.dataLength,
        'numChildren': stat.numChildren,
        'ephemeralOwner': stat.ephemeralOwner,
    }


class Recorder:
    """Collects callback values and lets the caller wait until a predicate holds."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def add(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, pred):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.items), timeout=WAIT)


def basic():
    r = {}
    c = client()
    try:
        r['create'] = c.create('/kz/basic', b'v1', makepath=True)
        data, stat = c.get('/kz/basic')
        r['get'] = [data.decode(), stat.version, stat.dataLength]
        r['set'] = c.set('/kz/basic', b'v2', version=0).version
        r['set_bad_version'] = err_name(lambda: c.set('/kz/basic', b'v3', version=0))
        r['create_exists'] = err_name(lambda: c.create('/kz/basic'))
        r['get_missing'] = err_name(lambda: c.get('/kz/missing'))
        r['ensure_path'] = c.ensure_path('/kz/a/b/c')
        r['ensure_path_again'] = c.ensure_path('/kz/a/b/c')
        r['children_a'] = c.get_children('/kz/a')
        r['delete_not_empty'] = err_name(lambda: c.delete('/kz/a'))
        c.delete('/kz/a/b/c')
        r['exists_after_delete'] = c.exists('/kz/a/b/c')
        c.delete('/kz/a', recursive=True)
        r['exists_after_recursive_delete'] = c.exists('/kz/a')
        r['seq'] = [c.create('/kz/seq/n-', b'', sequence=True, makepath=True) for _ in range(3)]
        path, stat = c.create('/kz/create2', b'abc', include_data=True)
        r['create2'] = [path, stat_of(stat)]
        children, stat = c.get_children('/kz', include_data=True)
        r['children_with_stat'] = [sorted(children), stat.numChildren]
        r['ephemeral_child'] = err_name(
            lambda: c.create('/kz/eph-parent', ephemeral=True) and c.create('/kz/eph-parent/x')
        )
        r['delete_bad_version'] = err_name(lambda: c.delete('/kz/basic', version=7))
        c.delete('/kz/basic', version=1)
        r['sync'] = c.sync('/kz')
        r['ruok'] = c.command(b'ruok')
    finally:
        c.stop()
        c.close()
    return r


def ephemerals():
    r = {}
    a = client()
    b = client()
    try:
        a.ensure_path('/kz/eph')
        a.create('/kz/eph/node', b'e', ephemeral=True)
        stat = b.exists('/kz/eph/node')
        r['owner_is_a'] = stat.ephemeralOwner == a.client_id[0]
        events = Recorder()

        @b.DataWatch('/kz/eph/node')
        def watch(data, stat, event):
            events.add([None if data is None else data.decode(), event.type if event else None])

        events.wait_for(lambda items: len(items) >= 1)
        a.stop()
        a.close()
        events.wait_for(lambda items: len(items) >= 2)
        r['data_watch'] = events.items
        r['exists_after_close'] = b.exists('/kz/eph/node')
        r['children_after_close'] = b.get_children('/kz/eph')
    finally:
        b.stop()
        b.close()
    return r


def lock():
    r = {}
    a = client()
    b = client()
    try:
        la = a.Lock('/kz/lock', 'alice')
        lb = b.Lock('/kz/lock', 'bob')
        r['a_acquire'] = la.acquire(timeout=WAIT)
        r['b_try'] = lb.acquire(blocking=False)
        got = Recorder()
        t = threading.Thread(target=lambda: got.add(lb.acquire(timeout=WAIT)))
        t.start()
        r['contenders_waiting'] = wait_contenders(la, ['alice', 'bob'])
        la.release()
        got.wait_for(lambda items: len(items) == 1)
        t.join(WAIT)
        r['b_acquired_after_release'] = got.items
        r['contenders_after'] = la.contenders()
        lb.release()
        r['lock_children_after_release'] = a.get_children('/kz/lock')
    finally:
        for c in (a, b):
            c.stop()
            c.close()
    return r


def wait_contenders(lock, expected):
    done = threading.Event()
    seen = []
    for _ in range(int(WAIT * 10)):
        seen = lock.contenders()
        if seen == expected:
            break
        done.wait(0.1)
    return seen


def watches():
    r = {}
    c = client()
    d = client()
    try:
        c.create('/kz/w', b'0', makepath=True)
        data_events = Recorder()

        @c.DataWatch('/kz/w')
        def on_data(data, stat, event):
            data_events.add([
                None if data is None else data.decode(),
                None if stat is None else stat.version,
                event.type if event else None,
            ])

        data_events.wait_for(lambda items: len(items) >= 1)
        for i, v in enumerate([b'1', b'2']):
            d.set('/kz/w', v)
            data_events.wait_for(lambda items, n=i: len(items) >= n + 2)
        d.delete('/kz/w')
        data_events.wait_for(lambda items: len(items) >= 4)
        r['data_watch'] = data_events.items

        d.create('/kz/cw', b'')
        child_events = Recorder()

        @c.ChildrenWatch('/kz/cw')
        def on_children(children):
            child_events.add(sorted(children))

        child_events.wait_for(lambda items: len(items) >= 1)
        d.create('/kz/cw/x')
        child_events.wait_for(lambda items: len(items) >= 2)
        d.create('/kz/cw/y')
        child_events.wait_for(lambda items: len(items) >= 3)
        d.delete('/kz/cw/x')
        child_events.wait_for(lambda items: len(items) >= 4)
        r['children_watch'] = child_events.items

        # A one-shot watch through the plain API: fires once only.
        once = Recorder()
        d.create('/kz/once', b'a')
        c.get('/kz/once', watch=lambda ev: once.add([ev.type, ev.path]))
        d.set('/kz/once', b'b')
        once.wait_for(lambda items: len(items) >= 1)
        d.set('/kz/once', b'c')
        c.sync('/kz/once')
        r['one_shot'] = once.items
        exists_events = Recorder()
        c.exists('/kz/later', watch=lambda ev: exists_events.add([ev.type, ev.path]))
        d.create('/kz/later')
        exists_events.wait_for(lambda items: len(items) >= 1)
        r['exists_watch'] = exists_events.items
    finally:
        for x in (c, d):
            x.stop()
            x.close()
    return r


def transactions():
    r = {}
    c = client()
    try:
        c.create('/kz/tx', b'p', makepath=True)
        t = c.transaction()
        t.create('/kz/tx/a', b'1')
        t.check('/kz/tx', 0)
        t.set_data('/kz/tx', b'q')
        t.delete('/kz/tx/a')
        t.create('/kz/tx/b', b'2')
        res = t.commit()
        r['ok'] = [x if isinstance(x, (str, bool)) else type(x).__name__ for x in res]
        r['ok_set_version'] = res[2].version
        r['after_ok'] = [sorted(c.get_children('/kz/tx')), c.get('/kz/tx')[0].decode()]
        t = c.transaction()
        t.create('/kz/tx/c', b'3')
        t.check('/kz/tx', 0)
        t.delete('/kz/tx/b')
        res = t.commit()
        r['failed'] = [x if isinstance(x, (str, bool)) else type(x).__name__ for x in res]
        r['after_failed'] = sorted(c.get_children('/kz/tx'))
    finally:
        c.stop()
        c.close()
    return r


HOLDER = """
import json, sys, time
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=15.0)
c.start(timeout=15.0)
c.ensure_path('/kz/reattach')
c.create('/kz/reattach/e', b'held', ephemeral=True)
sid, pw = c.client_id
print(json.dumps([sid, pw.hex()]), flush=True)
time.sleep(60)
"""


def reattach():
    """A second process opens a session and dies without closing it; we take the session over."""
    r = {}
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, HOSTS], stdout=subprocess.PIPE)
    try:
        line = read_line_bounded(holder.stdout)
        sid, pw_hex = json.loads(line)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(WAIT)
    pw = bytes.fromhex(pw_hex)
    c = client(client_id=(sid, pw))
    other = client()
    try:
        r['same_session'] = c.client_id[0] == sid
        stat = c.exists('/kz/reattach/e')
        r['ephemeral_kept'] = stat is not None and stat.ephemeralOwner == sid
        # The re-attached session can still use its ephemeral node.
        r['set_own_ephemeral'] = c.set('/kz/reattach/e', b'mine').version
        c.stop()
        c.close()
        r['ephemeral_after_close'] = other.exists('/kz/reattach/e')
        # A wrong password for a live session is refused: kazoo reports the session lost.
        # (ZooKeeper drops the live session's connection meanwhile; kazoo reconnects it to the same session.)
        states = Recorder()
        live = client()
        live_sid = live.client_id[0]
        bad = KazooClient(hosts=HOSTS, timeout=WAIT, client_id=(live_sid, b'\0' * 16))
        bad.add_listener(lambda s: states.add(s))
        started = threading.Thread(target=lambda: safe_start(bad))
        started.start()
        states.wait_for(lambda items: KazooState.LOST in items or KazooState.CONNECTED in items)
        started.join(WAIT)
        r['bad_password_states'] = [str(s) for s in states.items]
        r['bad_password_new_session'] = bad.client_id is not None and bad.client_id[0] != live_sid
        r['live_session_untouched'] = wait_usable(live) and live.client_id[0] == live_sid
        for x in (bad, live):
            x.stop()
            x.close()
    finally:
        other.stop()
        other.close()
    return r


def wait_usable(c):
    """Waits until the client is connected and answers a request."""
    pause = threading.Event()
    for _ in range(int(WAIT * 10)):
        if c.state == KazooState.CONNECTED:
            try:
                return c.exists('/') is not None
            except KazooException:
                pass
        pause.wait(0.1)
    return False


def safe_start(c):
    try:
        c.start(timeout=WAIT)
    except Exception:
        pass


def read_line_bounded(stream):
    out = []
    t = threading.Thread(target=lambda: out.append(stream.readline()))
    t.daemon = True
    t.start()
    t.join(WAIT)
    if not out or not out[0]:
        raise RuntimeError('session holder printed nothing')
    return out[0]


def auth():
    r = {}
    owner = client(auth_data=[('digest', 'alice:secret')])
    stranger = client()
    try:
        acl = make_digest_acl('alice', 'secret', all=True)
        owner.create('/kz/acl', b'top', acl=[acl], makepath=True)
        r['owner_get'] = owner.get('/kz/acl')[0].decode()
        r['stranger_get'] = err_name(lambda: stranger.get('/kz/acl'))
        r['stranger_set'] = err_name(lambda: stranger.set('/kz/acl', b'x'))
        r['stranger_create_child'] = err_name(lambda: stranger.create('/kz/acl/child'))
        r['stranger_get_acls'] = err_name(lambda: stranger.get_acls('/kz/acl'))
        acls, stat = owner.get_acls('/kz/acl')
        r['acls'] = [[a.id.scheme, a.id.id, a.perms] for a in acls]
        r['acl_expected_id'] = acl.id.id
        r['aversion'] = stat.aversion
        # The 'auth' scheme needs an authenticated identity: without one the ACL is invalid.
        auth_acl = ACL(Permissions.ALL, Id('auth', ''))
        r['invalid_acl'] = err_name(lambda: stranger.create('/kz/bad-acl', acl=[auth_acl]))
        owner.create('/kz/creator', b'c', acl=[auth_acl])
        r['creator_acl'] = [[a.id.scheme, a.id.id, a.perms] for a in owner.get_acls('/kz/creator')[0]]
        stranger.add_auth('digest', 'alice:wrong')
        r['wrong_password_get'] = err_name(lambda: stranger.get('/kz/acl'))
        stranger.add_auth('digest', 'alice:secret')
        r['after_add_auth_get'] = stranger.get('/kz/acl')[0].decode()
        # Read-only for everyone: writes are refused even with auth.
        owner.create('/kz/ro', b'r', acl=[make_acl_world_read()])
        r['ro_set'] = err_name(lambda: owner.set('/kz/ro', b'w'))
        r['ro_get'] = owner.get('/kz/ro')[0].decode()
        r['set_acls'] = owner.set_acls('/kz/acl', [make_acl_world_all()], version=0).aversion
        r['set_acls_bad_version'] = err_name(lambda: owner.set_acls('/kz/acl', [make_acl_world_all()], version=0))
    finally:
        for c in (owner, stranger):
            c.stop()
            c.close()
    return r


def make_acl_world_read():
    from kazoo.security import READ_ACL_UNSAFE
    return READ_ACL_UNSAFE[0]


def make_acl_world_all():
    from kazoo.security import OPEN_ACL_UNSAFE
    return OPEN_ACL_UNSAFE[0]


def main():
    results = {}
    for name, fn in [
        ('basic', basic),
        ('ephemerals', ephemerals),
        ('lock', lock),
        ('watches', watches),
        ('transactions', transactions),
        ('reattach', reattach),
        ('auth', auth),
    ]:
        try:
            results[name] = fn()
        except Exception as e:
            results[name] = {'error': '%s: %s' % (type(e).__name__, e), 'trace': traceback.format_exc()}
    print(json.dumps(results, sort_keys=True))
    sys.stdout.flush()
    os._exit(0)  # do not wait for kazoo's background threads


if __name__ == '__main__':
    main()
