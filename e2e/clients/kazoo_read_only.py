#!/usr/bin/python3
"""Kazoo against a server in read-only mode, across the heal of its partition.

Usage: kazoo_read_only.py HOST:PORT PATH DEADLINE_SECONDS
Prints one JSON line per phase (the caller, e2e/partition.test.ts, asserts on them):
  {"phase": "plain"}     a client without read_only=True could not connect
  {"phase": "ro", ...}   connected read-only: the state, PATH's data, what a create and a sync met
  {"phase": "rw", ...}   later, once the server serves read/write again: the state, and that a
                         create now succeeds
Every wait is bounded by DEADLINE_SECONDS in all.
"""

import json
import logging
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

HOSTS, PATH, DEADLINE = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
RETRY = {"max_tries": -1, "delay": 0.2, "max_delay": 1.0}

logging.basicConfig(level=logging.CRITICAL)


def say(**kw):
    print(json.dumps(kw), flush=True)


def error_name(fn):
    try:
        fn()
        return "ok"
    except KazooException as e:
        return type(e).__name__


plain = KazooClient(hosts=HOSTS, timeout=4, connection_retry=RETRY)
try:
    plain.start(timeout=3)
    say(phase="plain", connected=True)
except KazooTimeoutError:
    say(phase="plain", connected=False)
finally:
    plain.stop()
    plain.close()

zk = KazooClient(hosts=HOSTS, timeout=4, read_only=True, connection_retry=RETRY)
zk.start(timeout=max(1.0, DEADLINE - time.time()))
data, _ = zk.get(PATH)
say(
    phase="ro",
    state=zk.client_state,
    data=data.decode(),
    create=error_name(lambda: zk.create(PATH + "-kazoo-ro", b"x")),
    sync=error_name(lambda: zk.sync("/")),
)

# After the heal the read-only server closes the connection; kazoo reconnects, finds its read-only
# session unknown to the quorum (expired) and starts a new one, read/write this time.
while time.time() < DEADLINE:
    if zk.client_state == "CONNECTED":
        created = error_name(lambda: zk.create(PATH + "-kazoo-rw", b"y"))
        if created == "ok":
            say(phase="rw", state=zk.client_state, create=created)
            break
    time.sleep(0.2)
else:
    say(phase="timeout", state=zk.client_state)
zk.stop()
zk.close()
