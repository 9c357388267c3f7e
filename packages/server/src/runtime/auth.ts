/**
 * Who is sending a runtime batch: a cluster, identified by its ingest token. Ingest tokens are
 * not API tokens (they have no role and can do nothing but send telemetry); the route asks an
 * IngestAuthenticator, which the server builds over its cluster registry.
 */
export interface IngestCluster {
  clusterId: string;
  clusterName: string;
}

export interface IngestAuthenticator {
  /** The cluster whose ingest token this is; null when unknown or revoked. */
  verify(token: string): Promise<IngestCluster | null>;
}

/** The cluster registry as the ingest route needs it (storage.clusters). */
export interface ClusterTokenLookup {
  verifyIngestToken(plaintext: string): Promise<{ id: string; name: string } | null>;
}

/** Ingest tokens checked against the registered clusters (stored as hashes there). */
export function createClusterIngestAuthenticator(clusters: ClusterTokenLookup): IngestAuthenticator {
  return {
    async verify(token) {
      const c = await clusters.verifyIngestToken(token);
      return c ? { clusterId: c.id, clusterName: c.name } : null;
    },
  };
}
