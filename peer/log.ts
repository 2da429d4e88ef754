// One pino JSON logger for the process; level from LOG_LEVEL (default info) or, once the config is
// read, `zkensemble.logLevel` (peer/admin/settings.ts). Fields that could carry secrets (passwords,
// auth data, shared secrets, the super digest, TLS keys) are redacted wherever they are logged.

import { type DestinationStream, type LoggerOptions, pino } from 'pino';

const SECRET_FIELDS = ['passwd', 'password', 'auth', 'secret', 'sharedSecret', 'superDigest', 'privateKey'];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: '[redacted]' },
  };
}

export function makeLogger(level: string, dest?: DestinationStream) {
  return dest ? pino(loggerOptions(level), dest) : pino(loggerOptions(level));
}

export const log = makeLogger(process.env.LOG_LEVEL ?? 'info');

export type Logger = typeof log;
