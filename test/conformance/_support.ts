/**
 * Shared helpers for the conformance suite: the OFFICIAL client
 * (`@kurrent/kurrentdb-client` 1.3.1) drives our embedded node, and the tests
 * assert what a real EventStoreDB/KurrentDB node gives.
 *
 * Nothing here knows the node's internals: the node is reached only through
 * its connection string, exactly like a real server.
 */
import { afterAll, beforeAll } from "vitest"
import { createRequire } from "node:module"
import {
  KurrentDBClient,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type CaughtUp,
  type Position,
  type ResolvedEvent,
  type StreamSubscription
} from "@kurrent/kurrentdb-client"
import { startEmbeddedNode, type RunningNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"

export type { RunningNode }

/** Starts an embedded node (insecure unless told otherwise). */
export const startNode = (options: { readonly insecure: boolean } = { insecure: true }): Promise<RunningNode> =>
  startEmbeddedNode(options)

/** A stream name that no other test uses (test/support/unique.ts). */
export { uniqueName, uniqueStream } from "../support/unique.ts"
/** The one bounded wait of the tests (test/support/eventually.ts). */
export { eventuallyAsync } from "../support/eventually.ts"

/** Creates an official client for a connection string (always through `connectionString`). */
export const officialClient = (connectionString: string): KurrentDBClient =>
  KurrentDBClient.connectionString(connectionString)

/** Runs `f` with a fresh official client, disposing it afterwards. */
export const withClient = async <A>(connectionString: string, f: (client: KurrentDBClient) => Promise<A>): Promise<A> => {
  const client = officialClient(connectionString)
  try {
    return await f(client)
  } finally {
    await client.dispose()
  }
}

/** Drains an async iterable into an array. */
export const collect = async <A>(iterable: AsyncIterable<A>): Promise<Array<A>> => {
  const out: Array<A> = []
  for await (const a of iterable) out.push(a)
  return out
}

/**
 * Awaits a rejection and returns the error. Fails (with a readable message) if
 * the promise resolves instead, or rejects with an error of another class.
 */
export const rejectionOf = async <E extends Error>(
  promise: Promise<unknown> | (() => Promise<unknown>),
  errorClass: abstract new(...args: Array<never>) => E
): Promise<E> => {
  let result: unknown
  try {
    result = await (typeof promise === "function" ? promise() : promise)
  } catch (error) {
    if (error instanceof errorClass) return error
    const name = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)
    throw new Error(`expected a ${errorClass.name}, got ${name}`, { cause: error })
  }
  throw new Error(`expected a ${errorClass.name}, but the call succeeded with ${stringify(result)}`)
}

/** JSON.stringify that copes with bigints and byte arrays (for failure messages). */
export const stringify = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `bytes(${Buffer.from(v).toString("hex")})` : v)

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Subscription probe: records everything a catch-up subscription emits, in order.
// ---------------------------------------------------------------------------------------------

export type ProbeItem<E> =
  | { readonly kind: "confirmation" }
  | { readonly kind: "event"; readonly event: E }
  | { readonly kind: "caughtUp"; readonly info: CaughtUp }
  | { readonly kind: "checkpoint"; readonly position: Position }
  | { readonly kind: "error"; readonly error: unknown }
  | { readonly kind: "end" }
  | { readonly kind: "close" }

export interface Probe<E> {
  readonly items: Array<ProbeItem<E>>
  readonly events: () => Array<E>
  readonly has: (kind: ProbeItem<E>["kind"]) => boolean
  readonly count: (kind: ProbeItem<E>["kind"]) => number
  readonly waitFor: (what: string, condition: (probe: Probe<E>) => boolean, timeoutMs?: number) => Promise<void>
  /** Checkpoint sink to pass as `filter.checkpointReached` (register before subscribing). */
  readonly onCheckpoint: (subscription: AllStreamSubscription, position: Position) => void
  readonly attach: (subscription: StreamSubscription | AllStreamSubscription) => void
}

export const makeProbe = <E extends ResolvedEvent | AllStreamResolvedEvent>(): Probe<E> => {
  const items: Array<ProbeItem<E>> = []
  const probe: Probe<E> = {
    items,
    events: () => items.flatMap((i) => (i.kind === "event" ? [i.event] : [])),
    has: (kind) => items.some((i) => i.kind === kind),
    count: (kind) => items.filter((i) => i.kind === kind).length,
    waitFor: async (what, condition, timeoutMs) => {
      await eventuallyAsync(what, () => {
        const failure = items.find((i) => i.kind === "error")
        if (failure && failure.kind === "error") {
          throw new Error(`subscription failed while waiting for ${what}: ${String(failure.error)}`, { cause: failure.error })
        }
        return condition(probe)
      }, { timeoutMs })
    },
    onCheckpoint: (_subscription, position) => {
      items.push({ kind: "checkpoint", position })
    },
    attach: (subscription) => {
      const s = subscription as StreamSubscription
      s.on("confirmation", () => items.push({ kind: "confirmation" }))
      s.on("data", (event: unknown) => items.push({ kind: "event", event: event as E }))
      s.on("caughtUp", (info: CaughtUp) => items.push({ kind: "caughtUp", info }))
      s.on("error", (error: Error) => items.push({ kind: "error", error }))
      s.on("end", () => items.push({ kind: "end" }))
      s.on("close", () => items.push({ kind: "close" }))
    }
  }
  return probe
}

// ---------------------------------------------------------------------------------------------
// gRPC call log: which RPCs the official client made (it shares our @grpc/grpc-js copy).
// ---------------------------------------------------------------------------------------------

const callLog: Array<string> = []
let callLogInstalled = false
const requireCjs = createRequire(import.meta.url)

/**
 * Records the method path of every call the official client makes through its generated gRPC
 * clients (Streams, Gossip, ServerFeatures) in this process, by wrapping the methods of those
 * CommonJS client classes (the official client requires the very same module instances).
 * Reads through the native bridge are not gRPC-js calls and do not appear. Returns the live log.
 */
export const grpcCallLog = (): Array<string> => {
  if (!callLogInstalled) {
    callLogInstalled = true
    const generated = "@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/"
    const clients: Array<readonly [string, string]> = [
      ["streams_grpc_pb.js", "StreamsClient"],
      ["gossip_grpc_pb.js", "GossipClient"],
      ["serverfeatures_grpc_pb.js", "ServerFeaturesClient"]
    ]
    for (const [file, name] of clients) {
      const mod = requireCjs(generated + file) as Record<string, unknown>
      const ctor = mod[name] as {
        readonly service: Record<string, { readonly path: string }>
        readonly prototype: Record<string, (...args: Array<unknown>) => unknown>
      }
      for (const [method, definition] of Object.entries(ctor.service)) {
        const original = ctor.prototype[method]
        if (typeof original !== "function") continue
        ctor.prototype[method] = function(this: unknown, ...args: Array<unknown>) {
          callLog.push(definition.path)
          return original.apply(this, args)
        }
      }
    }
  }
  return callLog
}

export const BATCH_APPEND_PATH = "/event_store.client.streams.Streams/BatchAppend"
export const APPEND_PATH = "/event_store.client.streams.Streams/Append"
export const GOSSIP_READ_PATH = "/event_store.client.gossip.Gossip/Read"

/** Replaces (or removes) the `user:pass@` part of an esdb/kurrentdb connection string. */
export const withUserInfo = (connectionString: string, userInfo: string | undefined): string => {
  const m = /^([a-z+]+:\/\/)(?:[^@/]*@)?(.*)$/i.exec(connectionString)
  if (!m) throw new Error(`unexpected connection string ${connectionString}`)
  return `${m[1]}${userInfo === undefined ? "" : `${userInfo}@`}${m[2]}`
}

/** Turns `esdb://…` / `kurrentdb://…` into the `+discover` form of the same scheme. */
export const asDiscover = (connectionString: string): string =>
  connectionString.replace(/^([a-z]+):\/\//i, (_m, scheme: string) => `${scheme}+discover://`)

/**
 * Starts a node and an official client for the test file (beforeAll) and disposes both
 * (afterAll); `ready` receives them, so a file can keep them in its own variables and add its
 * own setup in a later beforeAll.
 */
export const useNode = (
  options: { readonly insecure: boolean },
  ready: (node: RunningNode, client: KurrentDBClient) => void
): void => {
  let node: RunningNode | undefined
  let client: KurrentDBClient | undefined
  beforeAll(async () => {
    node = await startNode(options)
    client = officialClient(node.connectionString)
    ready(node, client)
  })
  afterAll(async () => {
    await client?.dispose()
    await node?.stop()
  })
}
