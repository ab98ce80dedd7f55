/**
 * Shared definitions of the benchmark: workloads, sizes, payloads, the client interface every
 * implementation provides, and the result format children print on stdout.
 */

/** The workloads, in report order. */
export const WORKLOADS = [
  "append-1",
  "append-100",
  "append-concurrent",
  "append-multi",
  "read-stream",
  "read-all",
  "subscribe-all",
  "persistent"
] as const

export type Workload = (typeof WORKLOADS)[number]

/** Workloads whose cost depends on how the node frames read replies. */
export const READ_WORKLOADS: ReadonlyArray<Workload> = ["read-stream", "read-all", "subscribe-all"]
/** Persistent-subscription workloads (a group per sample on the seeded read stream). */
export const PERSISTENT_WORKLOADS: ReadonlyArray<Workload> = ["persistent"]
/** Workloads whose consumer sees events (and whose checksums must agree). */
export const CONSUME_WORKLOADS: ReadonlyArray<Workload> = [...READ_WORKLOADS, ...PERSISTENT_WORKLOADS]
export const APPEND_WORKLOADS: ReadonlyArray<Workload> = ["append-1", "append-100", "append-concurrent", "append-multi"]

export const WORKLOAD_TITLES: Record<Workload, string> = {
  "append-1": "sequential single-event appends",
  "append-100": "appends of 100 events × 1 KiB",
  "append-concurrent": "32 concurrent appenders (1 event each)",
  "append-multi": "sequential atomic appends to 3 streams (1 event each, AppendSession)",
  "read-stream": "read a stream of 100,000 events",
  "read-all": "read 200,000 events from $all",
  "subscribe-all": "catch-up subscription over 200,000 events",
  persistent: "persistent subscription over 50,000 events, acked"
}

/**
 * Clients, in report order. `effect-notrace` is effect-esdb with `tracing: false` and
 * `floor-append` the floor over the Append RPC (both for appends only).
 */
export const CLIENTS = ["effect", "effect-notrace", "official", "floor", "floor-append"] as const
export type ClientName = (typeof CLIENTS)[number]

export const CLIENT_TITLES: Record<ClientName, string> = {
  effect: "effect-esdb",
  "effect-notrace": "effect-esdb, tracing: false",
  official: "@kurrent/kurrentdb-client",
  floor: "floor (grpc-js + ts-proto)",
  "floor-append": "floor, Append RPC"
}

export type Framing = "message" | "coalesced" | "external"

/**
 * What the read workloads' events are. `json`: `application/json` events, whose data every client
 * delivers parsed (effect-esdb with `JSON.parse(event.dataText)`, the floor with `JSON.parse`, the
 * official client as it always does for JSON events), and the consumer reads a field of it.
 * `binary`: the same 200 bytes as `application/octet-stream` events, which nobody parses; the
 * consumer reads the data's length. (Every client decides by each event's content type, as the
 * official client does, so system events a node may hold are treated alike too.)
 */
export const VARIANTS = ["json", "binary"] as const
export type Variant = (typeof VARIANTS)[number]

export const VARIANT_TITLES: Record<Variant, string> = {
  json: "json (data parsed)",
  binary: "binary (bytes)"
}

/** Sizes of one run. */
export interface Sizes {
  readonly append1: { readonly ops: number; readonly warmup: number }
  readonly append100: { readonly ops: number; readonly warmup: number }
  readonly appendConcurrent: { readonly ops: number; readonly warmup: number; readonly appenders: number }
  /** Absent in results from before the multi-stream workload. */
  readonly appendMulti?: { readonly ops: number; readonly warmup: number } | undefined
  readonly readStream: { readonly events: number; readonly warmup: number }
  readonly readAll: { readonly events: number; readonly warmup: number }
  readonly subscribeAll: { readonly events: number; readonly warmup: number }
  /** Absent in results from before the persistent workload. */
  readonly persistent?: { readonly events: number; readonly warmup: number } | undefined
}

export const FULL_SIZES: Sizes = {
  append1: { ops: 5_000, warmup: 500 },
  append100: { ops: 200, warmup: 200 },
  appendConcurrent: { ops: 8_000, warmup: 960, appenders: 32 },
  appendMulti: { ops: 3_000, warmup: 300 },
  readStream: { events: 100_000, warmup: 20_000 },
  readAll: { events: 200_000, warmup: 20_000 },
  subscribeAll: { events: 200_000, warmup: 20_000 },
  // a fresh consumer process spends 1.7-2.0x its steady CPU per event on events 5,000-15,000 and
  // 1.1-1.5x on 15,000-25,000 (JIT, heap growth; both clients alike): the window starts after
  // them (BENCHMARKS.md section 11, sixth pass)
  persistent: { events: 50_000, warmup: 30_000 }
}

export const QUICK_SIZES: Sizes = {
  append1: { ops: 1_000, warmup: 200 },
  append100: { ops: 30, warmup: 30 },
  appendConcurrent: { ops: 1_600, warmup: 320, appenders: 32 },
  appendMulti: { ops: 600, warmup: 100 },
  readStream: { events: 50_000, warmup: 5_000 },
  readAll: { events: 100_000, warmup: 5_000 },
  subscribeAll: { events: 100_000, warmup: 5_000 },
  persistent: { events: 20_000, warmup: 2_000 }
}

/** Workload titles with the sizes of a run. */
export const workloadTitles = (sizes: Sizes): Record<Workload, string> => {
  const n = (x: number) => x.toLocaleString("en-US")
  return {
    ...WORKLOAD_TITLES,
    "read-stream": `read a stream of ${n(sizes.readStream.events)} events`,
    "read-all": `read ${n(sizes.readAll.events)} events from $all`,
    "subscribe-all": `catch-up subscription over ${n(sizes.subscribeAll.events)} events`,
    persistent: `persistent subscription over ${n(sizes.persistent?.events ?? 50_000)} events, acked`
  }
}

/** The data the node is seeded with before reads. */
export const SEED = {
  readStream: "bench-read",
  readStreamEvents: 100_000,
  fillStreams: 100,
  fillEventsPerStream: 1_000,
  rssStream: "bench-rss",
  rssEvents: 1_000_000,
  eventType: "BenchEvent",
  batch: 1_000
} as const

/** A JSON value whose serialization is exactly `bytes` long. */
export const jsonOfSize = (bytes: number, n: number): { n: number; pad: string } => {
  const base = JSON.stringify({ n, pad: "" }).length
  return { n, pad: "x".repeat(Math.max(0, bytes - base)) }
}

/**
 * What an append carries: an event type and a JSON value the client serializes itself; with
 * `binary`, the serialized bytes are appended as an `application/octet-stream` event.
 */
export interface Payload {
  readonly type: string
  readonly value: unknown
  readonly binary?: boolean | undefined
}

export const smallPayload = (i: number): Payload => ({ type: "BenchAppended", value: jsonOfSize(100, i) })
export const kibPayload = (i: number): Payload => ({ type: "BenchAppended", value: jsonOfSize(1024, i) })
/** The `i`th request of the append-100 workload: 100 events of 1 KiB (bench/worker.ts, bench/inprocess.ts). */
export const kibBatch = (i: number): Array<Payload> => Array.from({ length: 100 }, (_, j) => kibPayload(i * 100 + j))
export const readPayload = (i: number, variant: Variant = "json"): Payload => ({
  type: SEED.eventType,
  value: jsonOfSize(200, i),
  binary: variant === "binary"
})

/**
 * What the consumer of a `json` read takes from each parsed event's data: its `n` field (0 for
 * data without one, e.g. a system event's), so parsing cannot be skipped or deferred.
 */
export const jsonField = (value: unknown): number => {
  const n = (value as { readonly n?: unknown } | null)?.n
  return typeof n === "number" ? n : 0
}

/**
 * What each client implements. Every method runs a whole workload and resolves when it is done;
 * `latencies`, when given, receives the duration of each append in milliseconds.
 *
 * Reads and subscriptions hand each event to a consumer that adds to the checksum the length of
 * the event's type, plus, for an `application/json` event, {@link jsonField} of its parsed data
 * (parsed by the client or with the client's documented accessor), or, for any other, the length
 * of its data in bytes. Every client thus does the same work, and their checksums agree when they
 * saw the same events.
 */
export interface BenchClient {
  /** `n` sequential appends of one event each to `stream` (expected state: any). */
  readonly appendSequential: (stream: string, n: number, payload: (i: number) => Payload, latencies?: Array<number>) => Promise<void>
  /** `n` sequential appends of `batch(i).length` events each to `stream`. */
  readonly appendBatches: (stream: string, n: number, batch: (i: number) => ReadonlyArray<Payload>, latencies?: Array<number>) => Promise<void>
  /** `streams.length` concurrent appenders, each doing `perStream` sequential single-event appends to its own stream. */
  readonly appendConcurrent: (streams: ReadonlyArray<string>, perStream: number, payload: (i: number) => Payload, latencies?: Array<number>) => Promise<void>
  /** `n` sequential atomic appends of one event to each of `streams` (one transaction each, expected state: any). */
  readonly appendMulti: (streams: ReadonlyArray<string>, n: number, payload: (i: number) => Payload, latencies?: Array<number>) => Promise<void>
  /** Reads `count` events of `stream` forwards from its start; returns the events seen. */
  readonly readStream: (stream: string, count: number) => Promise<number>
  /** Reads `count` events of `$all` forwards from its start, no filter; returns the events seen. */
  readonly readAll: (count: number) => Promise<number>
  /** A catch-up subscription to `$all` from its start, no filter, stopped after `count` events. */
  readonly subscribeAll: (count: number) => Promise<number>
  /**
   * Creates the persistent-subscription group `group` on `stream`, from its start, with the
   * default settings (a real node's: batches of 20, buffers of 500, RoundRobin, ...).
   */
  readonly createPersistent: (stream: string, group: string) => Promise<void>
  /**
   * Connects to the group as one consumer (buffer size {@link PERSISTENT_BUFFER}), hands each event
   * to the consumer and acks it (each client's default / documented way to ack), stops after
   * `count` events once every ack is sent; returns the events seen.
   */
  readonly persistent: (stream: string, group: string, count: number) => Promise<number>
  /** Checksum of what the consumer touched (keeps the work observable). */
  readonly checksum: () => number
  readonly close: () => Promise<void>
}

/** The consumers' buffer size (events the node may have in flight to them): both clients' default. */
export const PERSISTENT_BUFFER = 10

/**
 * The order in which an A/B round runs its `count` variants: each round starts one variant later
 * (round 0: 0, 1, 2…; round 1: 1, 2, …, 0), so that no variant always runs right after the same
 * one, or first after the node started: a fixed order would charge a place in the round (the
 * node's state after the one before, a warmer machine) to a variant.
 */
export const rotation = (count: number, round: number): Array<number> =>
  Array.from({ length: count }, (_, i) => (i + round) % count)

/** The 25th and 75th percentiles of `values`: the spread quoted beside a median. */
export const quartiles = (values: ReadonlyArray<number>): readonly [low: number, high: number] => {
  const sorted = sortedFinite(values)
  return [percentile(sorted, 25), percentile(sorted, 75)]
}

/** One measurement, as a child prints it. */
export interface Sample {
  readonly client: ClientName
  readonly workload: Workload
  readonly framing: Framing
  /** The read variant (appends: always `json`); absent in results from before the variants. */
  readonly variant?: Variant | undefined
  readonly events: number
  readonly ops: number
  readonly wallMs: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  readonly maxRssMB: number
  readonly heapUsedMB: number
  /** The node's CPU over the measured window; null against an external server. */
  readonly nodeCpuMs: number | null
  /** CPU the rest of the machine used over the window (other processes, kernel): noise. */
  readonly otherCpuMs: number
  readonly latency: { readonly p50: number; readonly p99: number; readonly mean: number; readonly max: number } | null
  readonly checksum: number
}

/**
 * `NAME=value` split at its first `=` (a value may itself hold `=`, such as a path or a
 * `--flag=x`). Throws on an assignment with no `=` or an empty name: a misspelt setting must
 * stop the run, not measure the default silently.
 */
export const parseAssignment = (text: string): readonly [name: string, value: string] => {
  const i = text.indexOf("=")
  if (i <= 0) throw new Error(`expected NAME=value, got "${text}"`)
  return [text.slice(0, i), text.slice(i + 1)]
}

/** One variant of an A/B run: its label, its client (or module) and the environment it runs with. */
export interface VariantSpec {
  readonly label: string
  readonly client: string
  readonly env: Readonly<Record<string, string>>
}

/**
 * Parses `<label>=<client>[,NAME=value...]` (bench/ab.ts, bench/inprocess.ts). Every setting is
 * split at its own first `=`, so values keep their `=` and no setting is dropped.
 */
export const parseVariantSpec = (spec: string): VariantSpec => {
  const [label, rest] = parseAssignment(spec)
  const [client, ...settings] = rest.split(",")
  if (client === undefined || client === "") throw new Error(`variant "${label}" names no client`)
  return { label, client, env: Object.fromEntries(settings.map(parseAssignment)) }
}

export const RESULT_PREFIX = "@@RESULT "
export const READY_PREFIX = "@@READY "

export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** The finite ones of `values`, in ascending order. */
const sortedFinite = (values: ReadonlyArray<number>): Array<number> => [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b)

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = sortedFinite(values)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Reads the node's CPU time (ms, user + system) from its side channel. */
export const nodeCpuMs = async (url: string | undefined): Promise<number | null> => {
  if (url === undefined || url === "") return null
  const response = await fetch(url)
  const body = (await response.json()) as { user: number; system: number }
  return (body.user + body.system) / 1000
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
