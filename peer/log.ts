// One pino JSON logger for the process; level from LOG_LEVEL (default info).

import { pino } from 'pino';

export const log = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: ['passwd', 'password', 'auth', '*.passwd', '*.auth'], censor: '[redacted]' },
});

export type Logger = typeof log;
