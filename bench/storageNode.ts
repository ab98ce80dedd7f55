/**
 * The embedded node on a given database directory, for bench/storage.ts and the storage tests.
 *
 *   node bench/storageNode.ts <dir | -> [--cache-bytes N]
 *
 * `-` runs the node in memory. Prints `@@READY {"connectionString"}` once listening; stops when
 * its stdin closes or on SIGTERM.
 */
import { startEmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { READY_PREFIX } from "./lib/common.ts"

const main = async () => {
  const dir = process.argv[2]
  const node = await startEmbeddedNode({ port: 0, insecure: true, db: dir === undefined || dir === "-" ? undefined : dir })
  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ connectionString: node.connectionString })}\n`)
  const stop = () => void node.stop().then(() => process.exit(0))
  process.stdin.on("end", stop)
  process.stdin.resume()
  process.on("SIGTERM", stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`node failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
