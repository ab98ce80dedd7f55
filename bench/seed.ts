/**
 * Seeds a node with the data the read workloads need (through the floor client, Append RPC, which
 * every server supports), skipping what is already there.
 *
 *   node bench/seed.ts <connectionString> [--stream N] [--all M] [--rss] [--variant json|binary]
 *
 * Events are `application/json`, or with `--variant binary` the same bytes as
 * `application/octet-stream` (a node holds one variant: the read workloads start at `$all`'s start).
 *
 * - `bench-read`: N events of 200-byte JSON (default 100,000);
 * - `bench-fill-<i>`: 1,000 events each, so `$all` holds at least M events (default 200,000);
 * - with `--rss`, `bench-rss`: 1,000,000 events of 200-byte JSON.
 */
import { open } from "./clients/floor.ts"
import { readPayload, SEED, type Variant, VARIANTS } from "./lib/common.ts"

const connectionString = process.argv[2]!
const rss = process.argv.includes("--rss")
const numberArg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const variantIndex = process.argv.indexOf("--variant")
const variant = (variantIndex >= 0 ? process.argv[variantIndex + 1] : "json") as Variant
if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`)
const streamEvents = numberArg("--stream", SEED.readStreamEvents)
const allEvents = numberArg("--all", SEED.readStreamEvents + SEED.fillStreams * SEED.fillEventsPerStream)

const seedStream = async (client: Awaited<ReturnType<typeof open>>, stream: string, events: number) => {
  const existing = await client.readStream(stream, events)
  if (existing >= events) return 0
  if (existing > 0) throw new Error(`${stream} holds ${existing} events, fewer than ${events}: use a fresh server`)
  const batches = Math.ceil(events / SEED.batch)
  await client.appendBatches(stream, batches, (b) =>
    Array.from({ length: Math.min(SEED.batch, events - b * SEED.batch) }, (_, j) => readPayload(b * SEED.batch + j, variant)))
  return events
}

const main = async () => {
  const t0 = performance.now()
  const client = await open(connectionString, { appendRpc: "append" })
  let written = await seedStream(client, SEED.readStream, streamEvents)
  const fillCount = Math.max(0, Math.ceil((allEvents - streamEvents) / SEED.fillEventsPerStream))
  const fills = Array.from({ length: fillCount }, (_, i) => `bench-fill-${i}`)
  for (let i = 0; i < fills.length; i += 4) {
    const counts = await Promise.all(fills.slice(i, i + 4).map((s) => seedStream(client, s, SEED.fillEventsPerStream)))
    written += counts.reduce((a, b) => a + b, 0)
  }
  if (rss) written += await seedStream(client, SEED.rssStream, SEED.rssEvents)
  // Read everything once: a node may encode read replies lazily and cache them (the embedded node
  // does), and the first client measured must not pay for that.
  const t1 = performance.now()
  await client.readStream(SEED.readStream, streamEvents)
  await client.readAll(streamEvents + fillCount * SEED.fillEventsPerStream + (rss ? SEED.rssEvents : 0))
  process.stderr.write(`warmed the node's read path in ${((performance.now() - t1) / 1000).toFixed(1)} s\n`)
  await client.close()
  process.stderr.write(`seeded ${written} events in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`seed failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
