/**
 * Builds a `--db` log quickly through the store's own writer (no gRPC): `events` events of
 * `size`-byte JSON spread over `streams` streams (`store-<k>`), appended in batches of 1,000.
 * Used by bench/storage.ts and the storage tests.
 */
import { randomUUID } from "node:crypto"
import { openFileLog } from "../../src/server/storage/FileLog.ts"
import { Store } from "../../src/server/storage/Store.ts"

/** The body of event `n` of stream `k`: JSON of exactly `size` bytes. */
export const bodyOf = (k: number, n: number, size: number): Buffer => {
  const head = `{"k":${k},"n":${n},"pad":"`
  return Buffer.from(head + "x".repeat(Math.max(0, size - head.length - 2)) + `"}`)
}

/** Name of stream `k`. */
export const streamName = (k: number): string => `store-${k}`

/** Events per stream when `events` are spread over `streams` (the first ones get the remainder). */
export const eventsOf = (k: number, events: number, streams: number): number =>
  Math.floor(events / streams) + (k < events % streams ? 1 : 0)

/** Appends the events; resolves once they are durable and the log is closed. */
export const buildLog = async (dir: string, events: number, streams: number, size = 200): Promise<void> => {
  const store = new Store({ log: await openFileLog(dir) })
  const batch = 1000
  let written = 0
  // round-robin over the streams, one batch at a time, so the log interleaves them
  const next = new Array<number>(streams).fill(0)
  while (written < events) {
    for (let k = 0; k < streams && written < events; k++) {
      const total = eventsOf(k, events, streams)
      const from = next[k]!
      const count = Math.min(batch, total - from)
      if (count <= 0) continue
      store.append(streamName(k), { _tag: "Any" }, Array.from({ length: count }, (_, j) => ({
        eventId: randomUUID(),
        eventType: "Stored",
        isJson: true,
        data: bodyOf(k, from + j, size),
        customMetadata: Buffer.alloc(0)
      })))
      next[k] = from + count
      written += count
      if ((written / batch) % 100 === 0) await store.sync()
    }
  }
  await store.sync()
  await store.close()
}
