// Names of everything the operator creates for one ensemble. Region names that would collide
// (`client`, `voters`, `observers-*`) are refused by the CRD.

export function ensembleNames(name: string) {
  return {
    voterStatefulSet: `${name}-voter`,
    voterHeadless: `${name}-voters`,
    voterPdb: `${name}-voters`,
    client: `${name}-client`,
    staticConfig: `${name}-config`,
    dynamicConfig: `${name}-dynamic`,
    serviceAccount: name,
    serviceMonitor: name,
    /** Secret the pods mount when spec.security.quorumTLS.generateCA is true (quorum-tls.ts fills it). */
    generatedQuorumTls: `${name}-quorum-tls`,
    /** The generated quorum CA's certificate and key: only the operator reads it. */
    generatedQuorumCa: `${name}-quorum-ca`,
    /** Secret with the super user's password the operator reconfigures with (credentials.ts). */
    operatorCredentials: `${name}-operator-credentials`,
    voterPod: (ordinal: number) => `${name}-voter-${ordinal}`,
    observerDeployment: (region: string) => `${name}-observer-${region}`,
    observerHpa: (region: string) => `${name}-observer-${region}`,
    observerHeadless: (region: string) => `${name}-observers-${region}`,
    regionClient: (region: string) => `${name}-${region}`,
  };
}
