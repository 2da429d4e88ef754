// The two ConfigMaps the pods read: the static zoo.cfg (a change restarts pods) and the membership
// (a change never does: members learn new memberships through reconfig).

import type { ZkEnsemble } from '../api/types.generated.ts';
import { DYNAMIC_CONFIG_FILE, STATIC_CONFIG_FILE } from './contract.ts';
import { renderDynamicConfig } from './dynamic-config.ts';
import { objectMeta } from './labels.ts';
import type { Member } from './members.ts';
import { ensembleNames } from './names.ts';
import type { KubeObject } from './objects.ts';

export function staticConfigMap(e: ZkEnsemble, zooCfg: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).staticConfig, 'config'),
    data: { [STATIC_CONFIG_FILE]: zooCfg },
  };
}

export function dynamicConfigMap(e: ZkEnsemble, members: readonly Member[], version?: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).dynamicConfig, 'config'),
    data: { [DYNAMIC_CONFIG_FILE]: renderDynamicConfig(members, version) },
  };
}
