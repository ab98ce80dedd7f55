/**
 * The official client, `@kurrent/kurrentdb-client`, used as its documentation shows. Its reads
 * ($all and streams) go through the native Rust bridge; subscriptions and appends through
 * grpc-js and google-protobuf (appends over BatchAppend when the node advertises it). It parses
 * the data of every `application/json` event itself and hands other data over as bytes.
 */
import {
  ANY,
  binaryEvent,
  jsonEvent,
  KurrentDBClient,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type ResolvedEvent,
  START
} from "@kurrent/kurrentdb-client"
import { type BenchClient, jsonField, PERSISTENT_BUFFER, type Payload } from "../lib/common.ts"

const toEvent = (p: Payload) =>
  p.binary === true
    ? binaryEvent({ type: p.type, data: Buffer.from(JSON.stringify(p.value)) })
    : jsonEvent({ type: p.type, data: p.value as Record<string, unknown> })

export const open = async (connectionString: string): Promise<BenchClient> => {
  // the client warns that `esdb://` is deprecated; `kurrentdb://` is the same string otherwise
  const client = KurrentDBClient.connectionString(connectionString.replace(/^esdb(\+discover)?:/i, "kurrentdb$1:"))
  let sum = 0

  const appendSequential: BenchClient["appendSequential"] = async (stream, n, payload, latencies) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await client.appendToStream(stream, toEvent(payload(i)), { streamState: ANY })
      latencies?.push(performance.now() - t0)
    }
  }

  const appendBatches: BenchClient["appendBatches"] = async (stream, n, batchOf, latencies) => {
    for (let i = 0; i < n; i++) {
      const events = batchOf(i).map(toEvent)
      const t0 = performance.now()
      await client.appendToStream(stream, events, { streamState: ANY })
      latencies?.push(performance.now() - t0)
    }
  }

  const appendMulti: BenchClient["appendMulti"] = async (names, n, payload, latencies) => {
    for (let i = 0; i < n; i++) {
      const requests = names.map((streamName) => ({ streamName, events: [toEvent(payload(i))], expectedState: ANY as typeof ANY }))
      const t0 = performance.now()
      await client.multiStreamAppend(requests)
      latencies?.push(performance.now() - t0)
    }
  }

  const appendConcurrent: BenchClient["appendConcurrent"] = async (streams, perStream, payload, latencies) => {
    await Promise.all(streams.map(async (stream) => {
      for (let i = 0; i < perStream; i++) {
        const t0 = performance.now()
        await client.appendToStream(stream, toEvent(payload(i)), { streamState: ANY })
        latencies?.push(performance.now() - t0)
      }
    }))
  }

  /** What the consumer does with each event (see BenchClient): the client parsed JSON events. */
  const touch = (resolved: ResolvedEvent) => {
    const event = resolved.event
    if (event === undefined) return
    sum += event.type.length + (event.isJson ? jsonField(event.data) : (event.data as Uint8Array).length)
  }

  const readStream: BenchClient["readStream"] = async (stream, count) => {
    let seen = 0
    for await (const resolved of client.readStream(stream, { fromRevision: START, maxCount: count })) {
      touch(resolved)
      seen++
    }
    return seen
  }

  const readAll: BenchClient["readAll"] = async (count) => {
    let seen = 0
    for await (const resolved of client.readAll({ fromPosition: START, maxCount: count })) {
      touch(resolved)
      seen++
    }
    return seen
  }

  /** Consumed with `on("data")`, the cheapest way the client offers (no async iterator). */
  const subscribeAll: BenchClient["subscribeAll"] = (count) =>
    new Promise((resolve, reject) => {
      let seen = 0
      let done = false
      const subscription = client.subscribeToAll({ fromPosition: START })
      subscription.on("data", (resolved: ResolvedEvent) => {
        if (done) return
        touch(resolved)
        seen++
        if (seen >= count) {
          done = true
          subscription.unsubscribe().then(() => resolve(seen), reject)
        }
      })
      subscription.on("error", (error: Error) => {
        if (done) return
        done = true
        reject(error)
      })
    })

  /**
   * Consumed with `on("data")` (no async iterator), acking each event as its documentation shows
   * (`subscription.ack(event)`: one Ack message per event); done once the last ack is written.
   */
  const persistent: BenchClient["persistent"] = (stream, group, count) =>
    new Promise((resolve, reject) => {
      let seen = 0
      let done = false
      const subscription = client.subscribeToPersistentSubscriptionToStream(stream, group, { bufferSize: PERSISTENT_BUFFER })
      const fail = (error: unknown) => {
        if (done) return
        done = true
        reject(error)
      }
      subscription.on("data", (resolved: ResolvedEvent) => {
        if (done) return
        touch(resolved)
        seen++
        const acked = subscription.ack(resolved)
        if (seen >= count) {
          done = true
          acked.then(() => subscription.unsubscribe()).then(() => resolve(seen), reject)
        } else acked.catch(fail)
      })
      subscription.on("error", fail)
    })

  return {
    createPersistent: (stream, group) =>
      client.createPersistentSubscriptionToStream(stream, group, persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START })),
    persistent,
    appendSequential,
    appendBatches,
    appendConcurrent,
    appendMulti,
    readStream,
    readAll,
    subscribeAll,
    checksum: () => sum,
    close: () => client.dispose()
  }
}
