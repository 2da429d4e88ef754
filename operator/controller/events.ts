// core/v1 Events about a ZkEnsemble, so `kubectl describe zkensemble` tells what the operator did.
// An Event that cannot be written is logged and dropped: it never fails a reconcile.

import type { Logger } from '../../peer/log.ts';
import type { KubeClient, KubeObj } from './kube.ts';
import { collectionPath, EVENTS } from './resources.ts';

export const COMPONENT = 'zkensemble-operator';

export type EventType = 'Normal' | 'Warning';

export interface Recorder {
  event(
    about: Pick<KubeObj, 'apiVersion' | 'kind' | 'metadata'>,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void>;
}

export function eventRecorder(client: KubeClient, log: Logger, instance: string): Recorder {
  return {
    async event(about, type, reason, message) {
      const ns = about.metadata.namespace ?? 'default';
      const now = new Date().toISOString();
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${about.metadata.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: about.apiVersion,
          kind: about.kind,
          name: about.metadata.name,
          namespace: ns,
          uid: about.metadata.uid,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: instance,
      };
      try {
        await client.request('POST', collectionPath(EVENTS, ns), body);
      } catch (err) {
        log.warn({ err: (err as Error).message, reason }, 'could not record an event');
      }
    },
  };
}
