/**
 * The floor: raw @grpc/grpc-js with the generated ts-proto codec and no client logic (no
 * validation, retries, domain objects or headers), with the best channel options found.
 *
 * Appends go over one long-lived BatchAppend stream (what the official client does when the node
 * advertises it, and the cheapest RPC per append); `floor-append` uses the Append RPC instead.
 * The consumer gets the data of JSON events through `JSON.parse` of its UTF-8 text, and the data
 * of other events as the decoded bytes.
 */
import { randomUUID } from "node:crypto"
import * as grpc from "@grpc/grpc-js"
import type { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from "../../src/generated/streams.ts"
import { StreamsClient } from "../../src/generated/streams.ts"
import { SchemaFormat } from "../../src/generated/kurrentdb/protocol/v2/streams/shared.ts"
import { StreamsServiceClient } from "../../src/generated/kurrentdb/protocol/v2/streams/streams.ts"
import {
  CreateReq_ConsumerStrategy,
  PersistentSubscriptionsClient,
  type ReadReq as PersistentReadReq,
  type ReadResp as PersistentReadResp
} from "../../src/generated/persistent.ts"
import type { UUID } from "../../src/generated/shared.ts"
import { type BenchClient, jsonField, PERSISTENT_BUFFER, type Payload } from "../lib/common.ts"

/**
 * The floor's channel options. The 4 MiB HTTP/2 flow-control window is the one that matters
 * (grpc-js's 64 KiB starves readers, PERFORMANCE.md); channelz bookkeeping is switched off.
 */
export const FLOOR_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": 4 * 1024 * 1024,
  "grpc.max_receive_message_length": 17 * 1024 * 1024,
  "grpc.enable_channelz": 0
}

const empty = {}
const contentTypeJson = { key: "content-type", value: "application/json" }
const contentTypeBinary = { key: "content-type", value: "application/octet-stream" }
const contentTypeOf = (p: Payload) => (p.binary === true ? contentTypeBinary : contentTypeJson)

/** `esdb://host:port?…` → `host:port`. */
export const targetOf = (connectionString: string): string => {
  const m = /^[a-z+]+:\/\/(?:[^@/]*@)?([^/?,]+)/i.exec(connectionString)
  if (!m) throw new Error(`cannot find host:port in ${connectionString}`)
  return m[1]!
}

const toBuffer = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), "utf8")

const readRequest = (stream: string | undefined, count: number | "subscription"): ReadReq => ({
  options: {
    streamOption: stream === undefined
      ? { $case: "all", value: { allOption: { $case: "start", value: empty } } }
      : {
        $case: "stream",
        value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: empty } }
      },
    readDirection: 0,
    resolveLinks: false,
    countOption: count === "subscription" ? { $case: "subscription", value: {} } : { $case: "count", value: BigInt(count) },
    filterOption: { $case: "noFilter", value: empty },
    uuidOption: { content: { $case: "string", value: empty } },
    controlOption: undefined
  }
})

export interface FloorOptions {
  readonly appendRpc: "batch" | "append"
  readonly channelOptions?: grpc.ChannelOptions | undefined
}

export const open = async (connectionString: string, options: FloorOptions = { appendRpc: "batch" }): Promise<BenchClient> => {
  // BENCH_FLOOR_OPTIONS (JSON) overrides the channel options, for trying variants
  const override = process.env["BENCH_FLOOR_OPTIONS"]
  const channelOptions = override !== undefined ? (JSON.parse(override) as grpc.ChannelOptions) : options.channelOptions ?? FLOOR_CHANNEL_OPTIONS
  const client = new StreamsClient(targetOf(connectionString), grpc.credentials.createInsecure(), channelOptions)
  // the v2 service on the same channel
  const v2 = new StreamsServiceClient(targetOf(connectionString), grpc.credentials.createInsecure(), {
    ...channelOptions,
    channelOverride: client.getChannel()
  })
  let sum = 0

  // ---- BatchAppend: one duplex stream, replies matched by correlation id ----
  let batch: grpc.ClientDuplexStream<BatchAppendReq, BatchAppendResp> | undefined
  const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>()
  const batchStream = () => {
    if (batch !== undefined) return batch
    const call = client.batchAppend()
    call.on("data", (resp: BatchAppendResp) => {
      const id = resp.correlationId?.value?.$case === "string" ? resp.correlationId.value.value : ""
      const w = waiting.get(id)
      if (w === undefined) return
      waiting.delete(id)
      if (resp.result?.$case === "success") w.resolve()
      else w.reject(new Error(`BatchAppend failed: ${JSON.stringify(resp.result?.value)}`))
    })
    call.on("error", (error) => {
      for (const w of waiting.values()) w.reject(error)
      waiting.clear()
      batch = undefined
    })
    batch = call
    return call
  }

  const batchAppend = (stream: string, payloads: ReadonlyArray<Payload>): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = randomUUID()
      waiting.set(id, { resolve, reject })
      batchStream().write({
        correlationId: { value: { $case: "string", value: id } },
        options: {
          streamIdentifier: { streamName: Buffer.from(stream) },
          expectedStreamPosition: { $case: "any", value: empty },
          deadlineOption: undefined
        },
        proposedMessages: payloads.map((p) => ({
          id: { value: { $case: "string", value: randomUUID() } },
          metadata: [{ key: "type", value: p.type }, contentTypeOf(p)],
          customMetadata: Buffer.alloc(0),
          data: toBuffer(p.value)
        })),
        isFinal: true
      })
    })

  const plainAppend = (stream: string, payloads: ReadonlyArray<Payload>): Promise<void> =>
    new Promise((resolve, reject) => {
      const call = client.append((error: grpc.ServiceError | null, resp: AppendResp) => {
        if (error) reject(error)
        else if (resp.result?.$case !== "success") reject(new Error("Append failed"))
        else resolve()
      })
      const head: AppendReq = {
        content: {
          $case: "options",
          value: { streamIdentifier: { streamName: Buffer.from(stream) }, expectedStreamRevision: { $case: "any", value: empty } }
        }
      }
      call.write(head)
      for (const p of payloads) {
        call.write({
          content: {
            $case: "proposedMessage",
            value: {
              id: { value: { $case: "string", value: randomUUID() } },
              metadata: [{ key: "type", value: p.type }, contentTypeOf(p)],
              customMetadata: Buffer.alloc(0),
              data: toBuffer(p.value)
            }
          }
        })
      }
      call.end()
    })

  // ---- AppendSession: one client-streaming call per transaction, one request per stream ----
  const appendSession = (streams: ReadonlyArray<string>, p: Payload): Promise<void> =>
    new Promise((resolve, reject) => {
      const call = v2.appendSession((error: grpc.ServiceError | null) => (error ? reject(error) : resolve()))
      for (const stream of streams) {
        call.write({
          stream,
          expectedRevision: -2n,
          records: [{
            recordId: randomUUID(),
            properties: {},
            schema: { format: p.binary === true ? SchemaFormat.SCHEMA_FORMAT_BYTES : SchemaFormat.SCHEMA_FORMAT_JSON, name: p.type },
            data: toBuffer(p.value),
            stream: undefined
          }]
        })
      }
      call.end()
    })

  const append = options.appendRpc === "batch" ? batchAppend : plainAppend

  const appendSequential: BenchClient["appendSequential"] = async (stream, n, payload, latencies) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await append(stream, [payload(i)])
      latencies?.push(performance.now() - t0)
    }
  }

  const appendBatches: BenchClient["appendBatches"] = async (stream, n, batchOf, latencies) => {
    for (let i = 0; i < n; i++) {
      const payloads = batchOf(i)
      const t0 = performance.now()
      await append(stream, payloads)
      latencies?.push(performance.now() - t0)
    }
  }

  const appendMulti: BenchClient["appendMulti"] = async (streams, n, payload, latencies) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await appendSession(streams, payload(i))
      latencies?.push(performance.now() - t0)
    }
  }

  const appendConcurrent: BenchClient["appendConcurrent"] = async (streams, perStream, payload, latencies) => {
    await Promise.all(streams.map(async (stream) => {
      for (let i = 0; i < perStream; i++) {
        const t0 = performance.now()
        await append(stream, [payload(i)])
        latencies?.push(performance.now() - t0)
      }
    }))
  }

  // ---- persistent subscriptions ----
  const persistentClient = new PersistentSubscriptionsClient(targetOf(connectionString), grpc.credentials.createInsecure(), channelOptions)

  /** Creates a stream group from the start with the default settings (those the official client sends). */
  const createPersistent: BenchClient["createPersistent"] = (stream, group) =>
    new Promise((resolve, reject) => {
      const streamIdentifier = { streamName: Buffer.from(stream) }
      persistentClient.create({
        options: {
          streamOption: { $case: "stream", value: { streamIdentifier, revisionOption: { $case: "start", value: empty } } },
          streamIdentifier,
          groupName: group,
          settings: {
            resolveLinks: false,
            revision: 0n,
            extraStatistics: false,
            maxRetryCount: 10,
            minCheckpointCount: 10,
            maxCheckpointCount: 1000,
            maxSubscriberCount: 0,
            liveBufferSize: 500,
            readBatchSize: 20,
            historyBufferSize: 500,
            namedConsumerStrategy: CreateReq_ConsumerStrategy.RoundRobin,
            messageTimeout: { $case: "messageTimeoutMs", value: 30_000 },
            checkpointAfter: { $case: "checkpointAfterMs", value: 2_000 },
            consumerStrategy: "RoundRobin"
          }
        }
      }, (error) => (error ? reject(error) : resolve()))
    })

  /**
   * A Read duplex: the options, then the consumer takes each event and its id goes into the
   * pending acks, sent as one Ack message per PERSISTENT_BUFFER / 2 ids (effect-esdb's default
   * batch); the rest are sent after the last event, and the call is cancelled once grpc-js has
   * handed them to HTTP/2.
   */
  const persistent: BenchClient["persistent"] = (stream, group, count) =>
    new Promise((resolve, reject) => {
      const ackBatch = Math.max(1, PERSISTENT_BUFFER >> 1)
      let seen = 0
      let done = false
      let pending: Array<UUID> = []
      const call = persistentClient.read()
      const flush = () => {
        if (pending.length === 0) return
        const ack: PersistentReadReq = { content: { $case: "ack", value: { id: Buffer.alloc(0), ids: pending } } }
        pending = []
        call.write(ack)
      }
      call.write({
        content: {
          $case: "options",
          value: {
            streamOption: { $case: "streamIdentifier", value: { streamName: Buffer.from(stream) } },
            groupName: group,
            bufferSize: PERSISTENT_BUFFER,
            uuidOption: { content: { $case: "string", value: empty } }
          }
        }
      })
      call.on("data", (resp: PersistentReadResp) => {
        const content = resp.content
        if (content?.$case !== "event" || done) return
        const { event, link } = content.value
        if (event !== undefined) {
          const data = event.data
          let typeLength = 0
          let json = false
          for (const entry of event.metadata) {
            if (entry.key === "type") typeLength = entry.value.length
            else if (entry.key === "content-type") json = entry.value === "application/json"
          }
          sum += typeLength +
            (json ? jsonField(JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"))) : data.length)
        }
        const id = (link ?? event)?.id
        if (id !== undefined) pending.push(id)
        if (pending.length >= ackBatch) flush()
        seen++
        if (seen >= count) {
          // the last acks, then cancel once grpc-js has handed them to HTTP/2 (a node keeps a
          // half-closed Read open: the official client cancels the same way)
          done = true
          if (pending.length === 0) call.cancel()
          else {
            const ack: PersistentReadReq = { content: { $case: "ack", value: { id: Buffer.alloc(0), ids: pending } } }
            pending = []
            call.write(ack, () => call.cancel())
          }
        }
      })
      call.on("error", (error: grpc.ServiceError) => {
        if (done && error.code === grpc.status.CANCELLED) resolve(seen)
        else reject(error)
      })
      call.on("status", () => resolve(seen))
    })

  /** Runs a Read call, counting events; stops (cancels) after `count` events. */
  const read = (request: ReadReq, count: number): Promise<number> =>
    new Promise((resolve, reject) => {
      let seen = 0
      let done = false
      const call = client.read(request)
      call.on("data", (resp: ReadResp) => {
        const content = resp.content
        if (content?.$case !== "event" || done) return
        const event = content.value.event
        if (event !== undefined) {
          // what the consumer does with each event (see BenchClient)
          const data = event.data
          let typeLength = 0
          let json = false
          for (const entry of event.metadata) {
            if (entry.key === "type") typeLength = entry.value.length
            else if (entry.key === "content-type") json = entry.value === "application/json"
          }
          sum += typeLength +
            (json ? jsonField(JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"))) : data.length)
        }
        seen++
        if (seen >= count) {
          done = true
          call.cancel()
          resolve(seen)
        }
      })
      call.on("error", (error: grpc.ServiceError) => {
        if (done) return
        done = true
        if (error.code === grpc.status.CANCELLED) resolve(seen)
        else reject(error)
      })
      call.on("end", () => {
        if (done) return
        done = true
        resolve(seen)
      })
    })

  return {
    appendSequential,
    appendBatches,
    appendConcurrent,
    appendMulti,
    readStream: (stream, count) => read(readRequest(stream, count), count),
    readAll: (count) => read(readRequest(undefined, count), count),
    subscribeAll: (count) => read(readRequest(undefined, "subscription"), count),
    createPersistent,
    persistent,
    checksum: () => sum,
    close: async () => {
      batch?.end()
      persistentClient.close()
      v2.close()
      client.close()
    }
  }
}
