// A do-nothing ZooKeeper stand-in for measuring the load generator's own ceiling: it answers the
// handshake, then every request at once with a canned success reply (no tree, no disk). It speaks
// just enough of the protocol for bench/loadgen.ts. Usage: node bench/stub-server.ts PORT

import net from 'node:net';
import { JuteReader, JuteWriter } from '../peer/jute/archive.ts';
import { readConnectRequest, writeConnectResponse, writeStat } from '../peer/jute/records.ts';
import { OpCode } from '../peer/protocol/constants.ts';

const port = Number(process.argv[2] ?? 0);
const STAT = {
  czxid: 1,
  mzxid: 2,
  ctime: Date.now(),
  mtime: Date.now(),
  version: 1,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: 0n,
  dataLength: 100,
  numChildren: 0,
  pzxid: 1,
};
let nextSession = 0x1000n;
let zxid = 100;

function onConnection(sock: net.Socket): void {
  sock.setNoDelay(true);
  let inbuf = Buffer.alloc(0);
  let connected = false;
  const out = new JuteWriter(64 * 1024);
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: Buffer) => {
    let buf = inbuf.length ? Buffer.concat([inbuf, chunk]) : chunk;
    let off = 0;
    let close = false;
    if (!connected && buf.length >= 4 && buf.toString('latin1', 0, 4) === 'ruok') {
      sock.end('imok');
      return;
    }
    while (buf.length - off >= 4) {
      const len = buf.readInt32BE(off);
      if (len < 0 || len > 0xfffff) return void sock.destroy();
      if (buf.length - off - 4 < len) break;
      const r = new JuteReader(buf, off + 4, off + 4 + len);
      off += 4 + len;
      if (!connected) {
        const req = readConnectRequest(r);
        connected = true;
        const m = out.beginFrame();
        writeConnectResponse(out, {
          protocolVersion: 0,
          timeOut: req.timeOut,
          sessionId: nextSession++,
          passwd: Buffer.alloc(16),
          readOnly: req.readOnly === undefined ? undefined : false,
        });
        out.endFrame(m);
        continue;
      }
      const xid = r.int();
      const type = r.int();
      const m = out.beginFrame();
      out.int(xid).long(zxid).int(0);
      switch (type) {
        case OpCode.getData: {
          out.int(100);
          for (let i = 0; i < 25; i++) out.int(0x61626364);
          writeStat(out, STAT);
          break;
        }
        case OpCode.setData:
          zxid++;
          writeStat(out, STAT);
          break;
        case OpCode.create:
          zxid++;
          out.ustring(r.string());
          break;
        case OpCode.closeSession:
          close = true;
          break;
      }
      out.endFrame(m);
    }
    inbuf = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    buf = inbuf;
    if (out.length) {
      sock.write(out.toBuffer());
      out.reset();
    }
    if (close) sock.end();
  });
}

const server = net.createServer(onConnection);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
