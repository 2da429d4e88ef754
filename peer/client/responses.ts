// Decoding of reply bodies by the opcode of the request they answer (the client side of
// zookeeper.jute's *Response records).

import { JuteError, type JuteReader } from '../jute/archive.ts';
import {
  type ACL,
  type OpResult,
  readAclList,
  readMultiResponse,
  readStat,
  type Stat,
} from '../jute/records.ts';
import { OpCode } from '../protocol/constants.ts';

export interface ClientInfo {
  authScheme: string;
  user: string;
}

/** Every field a successful reply body can carry; which ones are set depends on the opcode. */
export interface ResponseBody {
  path?: string;
  stat?: Stat;
  data?: Buffer | null;
  acl?: ACL[];
  children?: string[];
  results?: OpResult[];
  ephemerals?: string[];
  totalNumber?: number;
  clientInfo?: ClientInfo[];
  /** The ErrorResponse body of addWatch. */
  errBody?: number;
}

const strings = (r: JuteReader): string[] => r.vector((x) => x.ustring() ?? '') ?? [];

/** Decodes the success body of a reply to `type`. Opcodes without a body give {}. */
export function readResponse(type: number, r: JuteReader): ResponseBody {
  switch (type) {
    case OpCode.create:
    case OpCode.sync:
      return { path: r.ustring() ?? '' };
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return { path: r.ustring() ?? '', stat: readStat(r) };
    case OpCode.exists:
    case OpCode.setData:
    case OpCode.setACL:
      return { stat: readStat(r) };
    case OpCode.getData:
    case OpCode.reconfig:
      return { data: r.buffer(), stat: readStat(r) };
    case OpCode.getACL:
      return { acl: readAclList(r) ?? [], stat: readStat(r) };
    case OpCode.getChildren:
      return { children: strings(r) };
    case OpCode.getChildren2:
      return { children: strings(r), stat: readStat(r) };
    case OpCode.multi:
    case OpCode.multiRead:
      return { results: readMultiResponse(r) };
    case OpCode.getEphemerals:
      return { ephemerals: strings(r) };
    case OpCode.getAllChildrenNumber:
      return { totalNumber: r.int() };
    case OpCode.whoAmI:
      return {
        clientInfo: r.vector((x) => ({ authScheme: x.ustring() ?? '', user: x.ustring() ?? '' })) ?? [],
      };
    case OpCode.addWatch:
      return r.remaining >= 4 ? { errBody: r.int() } : {};
    case OpCode.delete:
    case OpCode.checkWatches:
    case OpCode.removeWatches:
    case OpCode.deleteContainer:
    case OpCode.ping:
    case OpCode.auth:
    case OpCode.setWatches:
    case OpCode.setWatches2:
    case OpCode.closeSession:
    case OpCode.check:
      return {};
    case OpCode.sasl:
      return { data: r.buffer() };
    default:
      throw new JuteError(`no response layout for opcode ${type}`);
  }
}
