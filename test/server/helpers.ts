import * as grpc from "@grpc/grpc-js"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { GossipClient } from "../../src/generated/gossip.ts"
import { ServerFeaturesClient } from "../../src/generated/serverfeatures.ts"
import {
  type AppendReq,
  type AppendResp,
  type BatchAppendReq,
  type BatchAppendResp,
  type DeleteResp,
  type ReadReq,
  type ReadReq_Options,
  type ReadResp,
  StreamsClient,
  type TombstoneResp
} from "../../src/generated/streams.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { DEFAULT_TIMEOUT_MS } from "../support/eventually.ts"

export interface Clients {
  readonly streams: StreamsClient
  readonly gossip: GossipClient
  readonly features: ServerFeaturesClient
  readonly close: () => void
}

export const connect = (node: RunningNode): Clients => {
  const address = node.insecure ? `${node.host}:${node.port}` : `localhost:${node.port}`
  const creds = node.insecure
    ? grpc.credentials.createInsecure()
    : grpc.credentials.createSsl(readFileSync(node.caFile!))
  const streams = new StreamsClient(address, creds)
  const gossip = new GossipClient(address, creds)
  const features = new ServerFeaturesClient(address, creds)
  return {
    streams,
    gossip,
    features,
    close: () => {
      streams.close()
      gossip.close()
      features.close()
    }
  }
}

export const basicAuth = (user: string, password: string): grpc.Metadata => {
  const m = new grpc.Metadata()
  m.set("authorization", "Basic " + Buffer.from(`${user}:${password}`).toString("base64"))
  return m
}

/** A stream name no other test uses (test/support/unique.ts). */
export { uniqueName, uniqueStream } from "../support/unique.ts"

export interface NewEvent {
  readonly id?: string
  readonly type?: string
  readonly data?: unknown
  readonly metadata?: Array<{ key: string; value: string }>
  readonly customMetadata?: Buffer
  readonly rawData?: Buffer
}

export const proposed = (e: NewEvent = {}) => ({
  id: { value: { $case: "string" as const, value: e.id ?? randomUUID() } },
  metadata: e.metadata ?? [{ key: "type", value: e.type ?? "TestEvent" }, { key: "content-type", value: "application/json" }],
  customMetadata: e.customMetadata ?? Buffer.alloc(0),
  data: e.rawData ?? Buffer.from(JSON.stringify(e.data ?? { n: 1 }))
})

export type ExpectedOption = NonNullable<NonNullable<AppendReq["content"]> extends infer C ? C extends { $case: "options"; value: infer O } ? O extends { expectedStreamRevision?: infer E } ? E : never : never : never>

export const any: ExpectedOption = { $case: "any", value: {} }
export const noStream: ExpectedOption = { $case: "noStream", value: {} }
export const streamExists: ExpectedOption = { $case: "streamExists", value: {} }
export const revision = (n: bigint | number): ExpectedOption => ({ $case: "revision", value: BigInt(n) })

export const appendRaw = (
  client: StreamsClient,
  messages: ReadonlyArray<AppendReq>,
  metadata: grpc.Metadata = new grpc.Metadata()
): Promise<AppendResp> =>
  new Promise((resolve, reject) => {
    const call = client.append(metadata, (error, response) => (error ? reject(error) : resolve(response)))
    for (const m of messages) call.write(m)
    call.end()
  })

export const append = (
  client: StreamsClient,
  stream: string,
  expected: ExpectedOption,
  events: ReadonlyArray<NewEvent>,
  metadata?: grpc.Metadata
): Promise<AppendResp> =>
  appendRaw(client, [
    { content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from(stream) }, expectedStreamRevision: expected } } },
    ...events.map((e): AppendReq => ({ content: { $case: "proposedMessage", value: proposed(e) } }))
  ], metadata)

export const appendOk = async (client: StreamsClient, stream: string, expected: ExpectedOption, events: ReadonlyArray<NewEvent>, metadata?: grpc.Metadata) => {
  const resp = await append(client, stream, expected, events, metadata)
  if (resp.result?.$case !== "success") throw new Error(`append failed: ${JSON.stringify(resp, (_, v) => typeof v === "bigint" ? v.toString() : v)}`)
  return resp.result.value
}

export const readOptions = (overrides: Partial<ReadReq_Options>): ReadReq_Options => ({
  readDirection: 0,
  resolveLinks: false,
  uuidOption: { content: { $case: "string", value: {} } },
  countOption: { $case: "count", value: 1000n },
  filterOption: { $case: "noFilter", value: {} },
  ...overrides
})

export const streamOption = (stream: string, from: "start" | "end" | bigint = "start"): ReadReq_Options["streamOption"] => ({
  $case: "stream",
  value: {
    streamIdentifier: { streamName: Buffer.from(stream) },
    revisionOption: from === "start" ? { $case: "start", value: {} } : from === "end" ? { $case: "end", value: {} } : { $case: "revision", value: from }
  }
})

export const allOption = (from: "start" | "end" | bigint = "start"): ReadReq_Options["streamOption"] => ({
  $case: "all",
  value: {
    allOption: from === "start" ? { $case: "start", value: {} } : from === "end" ? { $case: "end", value: {} } : { $case: "position", value: { commitPosition: from, preparePosition: from } }
  }
})

export const readAll = (
  client: StreamsClient,
  request: ReadReq,
  metadata: grpc.Metadata = new grpc.Metadata()
): Promise<{ messages: Array<ReadResp>; error: grpc.ServiceError | undefined }> =>
  new Promise((resolve) => {
    const messages: Array<ReadResp> = []
    const call = client.read(request, metadata)
    call.on("data", (m: ReadResp) => messages.push(m))
    call.on("error", (error: grpc.ServiceError) => resolve({ messages, error }))
    call.on("end", () => resolve({ messages, error: undefined }))
  })

export const events = (messages: ReadonlyArray<ReadResp>) =>
  messages.flatMap((m) => (m.content?.$case === "event" ? [m.content.value] : []))

export const eventTypeOf = (e: { metadata: Array<{ key: string; value: string }> } | undefined) =>
  e?.metadata.find((m) => m.key === "type")?.value

export const unary = <Req, Res>(
  f: (req: Req, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
  metadata: grpc.Metadata = new grpc.Metadata()
): Promise<{ response: Res | undefined; error: grpc.ServiceError | undefined }> =>
  new Promise((resolve) => {
    f(req, metadata, (err, res) => resolve(err ? { response: undefined, error: err } : { response: res, error: undefined }))
  })

export const deleteStream = (client: StreamsClient, stream: string, expected: ExpectedOption, metadata?: grpc.Metadata) =>
  unary<Parameters<StreamsClient["delete"]>[0], DeleteResp>(
    (r, m, cb) => client.delete(r, m, cb),
    { options: { streamIdentifier: { streamName: Buffer.from(stream) }, expectedStreamRevision: expected } },
    metadata
  )

export const tombstoneStream = (client: StreamsClient, stream: string, expected: ExpectedOption, metadata?: grpc.Metadata) =>
  unary<Parameters<StreamsClient["tombstone"]>[0], TombstoneResp>(
    (r, m, cb) => client.tombstone(r, m, cb),
    { options: { streamIdentifier: { streamName: Buffer.from(stream) }, expectedStreamRevision: expected } },
    metadata
  )

/** A BatchAppend session: send requests, collect responses by correlation id. */
export const batchSession = (client: StreamsClient, metadata: grpc.Metadata = new grpc.Metadata()) => {
  const call = client.batchAppend(metadata)
  const responses: Array<BatchAppendResp> = []
  const waiters: Array<() => void> = []
  let ended = false
  let error: grpc.ServiceError | undefined
  call.on("data", (r: BatchAppendResp) => {
    responses.push(r)
    for (const w of waiters.splice(0)) w()
  })
  call.on("error", (e: grpc.ServiceError) => {
    error = e
    for (const w of waiters.splice(0)) w()
  })
  call.on("end", () => {
    ended = true
    for (const w of waiters.splice(0)) w()
  })
  return {
    call,
    send: (req: BatchAppendReq) => call.write(req),
    next: async (n = 1): Promise<Array<BatchAppendResp>> => {
      while (responses.length < n && !ended && error === undefined) await new Promise<void>((r) => waiters.push(r))
      return responses.splice(0, n)
    },
    end: async () => {
      call.end()
      while (!ended && error === undefined) await new Promise<void>((r) => waiters.push(r))
      return { error }
    }
  }
}

/**
 * Subscription helper: collects messages, lets a test wait for a predicate (woken by each message,
 * bounded by the tests' one wait bound, test/support/eventually.ts).
 */
export const subscribe = (client: StreamsClient, request: ReadReq, metadata: grpc.Metadata = new grpc.Metadata()) => {
  const call = client.read(request, metadata)
  const messages: Array<ReadResp> = []
  let error: grpc.ServiceError | undefined
  let ended = false
  const waiters: Array<() => void> = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  call.on("data", (m: ReadResp) => {
    messages.push(m)
    wake()
  })
  call.on("error", (e: grpc.ServiceError) => {
    error = e
    wake()
  })
  call.on("end", () => {
    ended = true
    wake()
  })
  return {
    call,
    messages,
    get error() {
      return error
    },
    get ended() {
      return ended
    },
    waitFor: async (predicate: (ms: ReadonlyArray<ReadResp>) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while (!predicate(messages)) {
        if (error !== undefined || ended) throw new Error(`subscription ended: ${error?.message ?? "end"}`)
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`timeout waiting; got ${messages.map((m) => m.content?.$case).join(",")}`)
        await new Promise<void>((r) => {
          const t = setTimeout(r, left)
          waiters.push(() => {
            clearTimeout(t)
            r()
          })
        })
      }
    },
    waitEnd: async (timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while (error === undefined && !ended) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error("timeout waiting for end")
        await new Promise<void>((r) => {
          const t = setTimeout(r, left)
          waiters.push(() => {
            clearTimeout(t)
            r()
          })
        })
      }
    }
  }
}

export const supportedMethods = (c: Clients, metadata?: grpc.Metadata) =>
  unary<Record<string, never>, import("../../src/generated/serverfeatures.ts").SupportedMethods>(
    (r, m, cb) => c.features.getSupportedMethods(r, m, cb),
    {},
    metadata
  )

export const gossipRead = (c: Clients, metadata?: grpc.Metadata) =>
  unary<Record<string, never>, import("../../src/generated/gossip.ts").ClusterInfo>((r, m, cb) => c.gossip.read(r, m, cb), {}, metadata)
