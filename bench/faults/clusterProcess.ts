/**
 * An embedded cluster in a process of its own, for the scenario that kills a whole cluster with
 * SIGKILL (wholeClusterKill.ts): `node bench/faults/clusterProcess.ts --db DIR [--nodes 3]`
 * starts `startEmbeddedCluster({ db })` and prints its connection string on a line of its own,
 * then runs until killed. (The smallest entry the scenario needs; `npm run server -- --cluster N`
 * is the user-facing one.)
 */
import { startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const db = arg("--db")
if (db === undefined) {
  process.stderr.write("usage: clusterProcess.ts --db DIR [--nodes 3]\n")
  process.exit(2)
}
const cluster = await startEmbeddedCluster({ db, nodes: Number(arg("--nodes") ?? 3), logger: (m) => void process.stderr.write(`[cluster] ${m}\n`) })
process.stdout.write(`${cluster.connectionString}\n`)
process.on("SIGTERM", () => void cluster.close().then(() => process.exit(0)))
