// The CustomResourceDefinition object for ZkEnsemble, built from schema.ts (pure; generate.ts writes
// it to crds/).

import {
  CATEGORIES,
  GROUP,
  KIND,
  PLURAL,
  printerColumns,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
  zkEnsembleSchema,
} from './schema.ts';

export const CRD_NAME = `${PLURAL}.${GROUP}`;

export function zkEnsembleCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'zkensemble', 'app.kubernetes.io/part-of': 'zkensemble' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: { openAPIV3Schema: zkEnsembleSchema },
        },
      ],
    },
  };
}
