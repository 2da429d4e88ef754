// A bounded label for why a learner or election connection was refused: learner-guard.ts,
// quorum-link.ts and election-transport.ts report free text (it goes to the log), the metric needs a
// small fixed set of values.

export const REFUSAL_REASONS = [
  'allow_list',
  'tls_certificate',
  'tls_handshake',
  'shared_secret',
  'handshake',
  'other',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export function refusalReason(text: string): RefusalReason {
  if (text.includes('allowList')) return 'allow_list';
  if (text.includes('client certificate')) return 'tls_certificate';
  if (text.startsWith('TLS:')) return 'tls_handshake';
  if (text.includes('wrong shared secret')) return 'shared_secret';
  if (/handshake|ECONNRESET|EPIPE|closed/.test(text)) return 'handshake';
  return 'other';
}
