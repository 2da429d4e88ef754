// Checks the CRD's schema and CEL rules cannot make well: zoo.cfg values as the peer parses them,
// CIDRs, quantities, names that must fit in DNS labels. Pure; the controller turns the messages into
// a Degraded condition and leaves the running ensemble alone instead of failing over and over.
// The CEL rules are checked again here, for objects that got in while the CRD lacked them.

import { parseZooConfig } from '../../peer/config/zoocfg.ts';
import { parseAllowList } from '../../peer/net/cidr.ts';
import { renderStaticConfig, zooCfgEntryProblem } from '../render/zoocfg.ts';
import { withDefaults } from './defaults.ts';
import { parseQuantity } from './quantity.ts';
import {
  DNS1035_LABEL,
  DNS1123_LABEL,
  MAX_NAME_LENGTH,
  MAX_REGION_LENGTH,
  RESERVED_REGION_NAMES,
  RESERVED_REGION_PREFIX,
} from './schema.ts';
import type { ResourceRequirements, ZkEnsemble, ZkEnsembleInput } from './types.generated.ts';

const DNS1035 = new RegExp(DNS1035_LABEL);
const DNS1123 = new RegExp(DNS1123_LABEL);

function resourceProblems(where: string, r: ResourceRequirements | undefined): string[] {
  const out: string[] = [];
  const parsed = (kind: 'requests' | 'limits') =>
    Object.entries(r?.[kind] ?? {}).map(([name, q]) => {
      const v = parseQuantity(q);
      if (v === null || v < 0) out.push(`${where}.${kind}.${name}: ${q} is not a quantity`);
      return [name, v] as const;
    });
  const limits = new Map(parsed('limits'));
  for (const [name, req] of parsed('requests')) {
    const lim = limits.get(name);
    if (req !== null && lim !== undefined && lim !== null && req > lim)
      out.push(`${where}: the ${name} request is above its limit`);
  }
  return out;
}

function nameProblems(e: ZkEnsemble): string[] {
  const out: string[] = [];
  const name = e.metadata.name;
  if (!DNS1035.test(name) || name.length > MAX_NAME_LENGTH)
    out.push(`name ${name} must be a DNS-1035 label of at most ${MAX_NAME_LENGTH} characters`);
  const seen = new Set<string>();
  for (const r of e.spec.observers.regions) {
    if (seen.has(r.name)) out.push(`region ${r.name} is listed twice`);
    seen.add(r.name);
    if (!DNS1123.test(r.name) || r.name.length > MAX_REGION_LENGTH)
      out.push(`region name ${r.name} must be a DNS-1123 label of at most ${MAX_REGION_LENGTH} characters`);
    if (RESERVED_REGION_NAMES.includes(r.name) || r.name.startsWith(RESERVED_REGION_PREFIX))
      out.push(`region name ${r.name} is reserved for the operator's own Services`);
  }
  return out;
}

function zooCfgProblems(e: ZkEnsemble): string[] {
  const out = Object.entries(e.spec.zooCfg)
    .map(([k, v]) => zooCfgEntryProblem(k, v))
    .filter((p): p is string => p !== null);
  try {
    parseZooConfig(renderStaticConfig(e));
  } catch (err) {
    out.push(`zooCfg: ${(err as Error).message.replace(/^line \d+: /, '')}`);
  }
  return out;
}

function scalingProblems(e: ZkEnsemble): string[] {
  const out: string[] = [];
  const { replicas } = e.spec.voters;
  if (replicas < 1 || replicas > 7 || replicas % 2 === 0)
    out.push(`voters.replicas is ${replicas}: it must be 1, 3, 5 or 7`);
  const pdb = e.spec.podDisruptionBudget;
  if (pdb.enabled && replicas > 1 && pdb.maxUnavailable > Math.floor((replicas - 1) / 2))
    out.push(
      `podDisruptionBudget.maxUnavailable ${pdb.maxUnavailable} lets evictions take the quorum of ${replicas} voters`,
    );
  for (const r of e.spec.observers.regions) {
    const a = r.autoscaling;
    if (!a) continue;
    if (a.minReplicas > a.maxReplicas)
      out.push(`region ${r.name}: autoscaling.minReplicas is above maxReplicas`);
    const cpuRequest = (r.resources ?? e.spec.observers.resources).requests?.cpu;
    if (a.cpuUtilization !== undefined && cpuRequest === undefined)
      out.push(`region ${r.name}: autoscaling on cpuUtilization needs a CPU request`);
  }
  return out;
}

function securityProblems(e: ZkEnsemble): string[] {
  const out: string[] = [];
  const sec = e.spec.security;
  try {
    parseAllowList((sec.learnerAllowList ?? []).join(','));
  } catch (err) {
    out.push(`security.learnerAllowList: ${(err as Error).message}`);
  }
  const tls = sec.quorumTLS;
  if (tls && (tls.secretName !== undefined) === (tls.generateCA === true))
    out.push('security.quorumTLS needs exactly one of secretName or generateCA: true');
  return out;
}

/** Human-readable problems with the ensemble's spec; empty when it can be rendered and run. */
export function validateEnsemble(input: ZkEnsemble | ZkEnsembleInput): string[] {
  const e = withDefaults(input);
  const size = parseQuantity(e.spec.voters.storage.size);
  return [
    ...nameProblems(e),
    ...scalingProblems(e),
    ...(size === null || size <= 0
      ? [`voters.storage.size ${e.spec.voters.storage.size} is not a size`]
      : []),
    ...resourceProblems('voters.resources', e.spec.voters.resources),
    ...resourceProblems('observers.resources', e.spec.observers.resources),
    ...e.spec.observers.regions.flatMap((r) => resourceProblems(`region ${r.name} resources`, r.resources)),
    ...zooCfgProblems(e),
    ...securityProblems(e),
  ];
}
