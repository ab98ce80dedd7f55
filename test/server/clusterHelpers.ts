import type { RunningCluster } from "../../src/server/cluster/EmbeddedCluster.ts"

/** The `$all` event ids a cluster member has made readable, in log order. */
export const idsOf = (cluster: RunningCluster, index: number): Array<string> => {
  const store = cluster.store(index)!
  const ids: Array<string> = []
  for (let i = 0; i < store.log.length; i++) ids.push(store.log.record(i).eventId)
  return ids
}
