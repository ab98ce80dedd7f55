/**
 * The client side of the hostile-server tests, run in a child process of its own so that its
 * memory can be measured cleanly:
 *
 * ```sh
 * node --experimental-strip-types --no-warnings test/support/hostileClient.ts '{"port":1234,"op":"append","client":"effect-esdb","deadlineMs":2000}'
 * ```
 *
 * It makes one call (`append`: Streams.append, which uses BatchAppend; `read`: Streams.read;
 * `delete`: the unary Delete) against the server on 127.0.0.1:`port` with a deadline, samples
 * its RSS every 20 ms meanwhile, prints `START` when the call starts (after the modules are loaded
 * and the layer is built, which a loaded machine may take seconds to do) and one line
 * `RESULT {json}` when it ends (see {@link HostileResult}).
 * `client` is `effect-esdb` (the public API) or `grpc-js` (raw grpc-js with the generated codec
 * and the benchmark floor's channel options: the reference the harness is checked against).
 *
 * When its RSS grows by more than `rssCapMb` it reports `RssCapExceeded` and exits at once, so a
 * client that buffers without bound does not take the machine down.
 */
import * as grpc from "@grpc/grpc-js"
import type * as EffectType from "effect/Effect"
import { FLOOR_CHANNEL_OPTIONS } from "../../bench/clients/floor.ts"
import type { BatchAppendResp, DeleteResp, ReadResp } from "../../src/generated/streams.ts"
import { StreamsClient } from "../../src/generated/streams.ts"

/** What the child is asked to do. */
export interface HostileRequest {
  readonly port: number
  readonly op: "append" | "read" | "delete"
  readonly client: "effect-esdb" | "grpc-js"
  readonly deadlineMs: number
  /** RSS growth (MB) at which the child gives up and reports `RssCapExceeded` (default 600). */
  readonly rssCapMb?: number | undefined
}

/** What the child reports. */
export interface HostileResult {
  /** The error's `_tag` (effect-esdb), `grpc:<STATUS>` (grpc-js), `Success`, `Die`, `Interrupt`, `RssCapExceeded` or `Hung`. */
  readonly tag: string
  /** Whether the error is an instance of one of the tagged errors exported by src/errors. */
  readonly typed: boolean
  readonly message: string
  /** Milliseconds from the call's start to its end. */
  readonly elapsedMs: number
  /** RSS in MB just before the call, at its end, and the highest seen (sampled every 20 ms, and the kernel's maxrss). */
  readonly rssBeforeMb: number
  readonly rssAfterMb: number
  readonly rssPeakMb: number
  /** rssPeakMb − rssBeforeMb. */
  readonly rssGrowthMb: number
}

const MB = 1024 * 1024
const request = JSON.parse(process.argv[2] ?? "{}") as HostileRequest
const rssCapMb = request.rssCapMb ?? 600
const stream = "hostile-stream"

let rssBefore = process.memoryUsage().rss
let peak = rssBefore
/** The kernel's high-water mark when the call started: a later one above it was reached during the call. */
let maxRssAtStart = process.resourceUsage().maxRSS * 1024
let t0 = performance.now()
let sampler: ReturnType<typeof setInterval> | undefined

let reported = false
const report = (tag: string, typed: boolean, message: string): void => {
  if (reported) return
  reported = true
  const elapsedMs = Math.round(performance.now() - t0)
  if (sampler !== undefined) clearInterval(sampler)
  const rssAfter = process.memoryUsage().rss
  // the kernel's high-water mark counts only if the call raised it: the mark of the module loading
  // before the call (RSS may have shrunk since) is not growth of the call
  const maxRss = process.resourceUsage().maxRSS * 1024
  peak = Math.max(peak, rssAfter, maxRss > maxRssAtStart ? maxRss : 0)
  const result: HostileResult = {
    tag,
    typed,
    message: message.slice(0, 300),
    elapsedMs,
    rssBeforeMb: Math.round(rssBefore / MB),
    rssAfterMb: Math.round(rssAfter / MB),
    rssPeakMb: Math.round(peak / MB),
    rssGrowthMb: Math.round((peak - rssBefore) / MB)
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => setTimeout(() => process.exit(0), 200))
}

/** Marks the start of the call: RSS and time are measured from here. */
const start = () => {
  rssBefore = process.memoryUsage().rss
  peak = rssBefore
  maxRssAtStart = process.resourceUsage().maxRSS * 1024
  process.stdout.write("START\n")
  t0 = performance.now()
  sampler = setInterval(() => {
    const rss = process.memoryUsage().rss
    if (rss > peak) peak = rss
    if (rss - rssBefore > rssCapMb * MB) report("RssCapExceeded", false, `RSS grew by more than ${rssCapMb} MB`)
  }, 20)
  setTimeout(() => report("Hung", false, `no result ${request.deadlineMs + 8000} ms after the call started`), request.deadlineMs + 8000)
}

const runEffectEsdb = async () => {
  // loaded here, so that the grpc-js runs start without them
  const [Cause, Context, Effect, Exit, Layer, Scope, Stream, { NewEvent }, Errors, EventStoreDB, Streams] = await Promise.all([
    import("effect/Cause"),
    import("effect/Context"),
    import("effect/Effect"),
    import("effect/Exit"),
    import("effect/Layer"),
    import("effect/Scope"),
    import("effect/Stream"),
    import("../../src/domain/NewEvent.ts"),
    import("../../src/errors/index.ts"),
    import("../../src/layers/EventStoreDB.ts"),
    import("../../src/services/Streams.ts")
  ])
  const isTyped = (error: unknown): boolean =>
    Object.values(Errors).some((C) => typeof C === "function" && error instanceof (C as new(...args: Array<never>) => unknown))
  const timeout = request.deadlineMs
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(
      EventStoreDB.layer({ connectionString: `esdb://127.0.0.1:${request.port}?tls=false&DefaultDeadline=${timeout}` }),
      scope
    )
  )
  const streams = Context.get(context, Streams.Streams)
  const call: EffectType.Effect<unknown, unknown> = request.op === "append"
    ? streams.append(stream, new NewEvent({ type: "Hostile", data: JSON.stringify({ n: 1 }) }), { currentVersion: "any", timeout })
    : request.op === "read"
    ? Stream.runDrain(streams.read(stream, { timeout }))
    : streams.delete(stream, { currentVersion: "any", timeout })
  start()
  const exit = await Effect.runPromiseExit(call)
  if (Exit.isSuccess(exit)) return report("Success", false, "the call succeeded")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some") {
    const e = error.value as { readonly _tag?: string; readonly message?: string }
    return report(String(e._tag ?? "untagged"), isTyped(e), String(e.message ?? ""))
  }
  if (Cause.hasDies(exit.cause)) return report("Die", false, Cause.pretty(exit.cause))
  return report("Interrupt", false, Cause.pretty(exit.cause))
}

const runGrpcJs = () =>
  new Promise<void>((resolve) => {
    const client = new StreamsClient(`127.0.0.1:${request.port}`, grpc.credentials.createInsecure(), FLOOR_CHANNEL_OPTIONS)
    start()
    const deadline = new Date(Date.now() + request.deadlineMs)
    const fail = (error: grpc.ServiceError) => {
      report(`grpc:${grpc.status[error.code] ?? error.code}`, false, error.details ?? error.message)
      resolve()
    }
    const succeed = () => {
      report("Success", false, "the call succeeded")
      resolve()
    }
    const empty = {}
    const streamIdentifier = { streamName: Buffer.from(stream) }
    if (request.op === "append") {
      const call = client.batchAppend({ deadline })
      call.on("data", (_: BatchAppendResp) => succeed())
      call.on("error", fail)
      call.write({
        correlationId: { value: { $case: "string", value: "00000000-0000-0000-0000-000000000001" } },
        options: { streamIdentifier, expectedStreamPosition: { $case: "any", value: empty }, deadlineOption: undefined },
        proposedMessages: [{
          id: { value: { $case: "string", value: "00000000-0000-0000-0000-000000000002" } },
          metadata: [{ key: "type", value: "Hostile" }, { key: "content-type", value: "application/json" }],
          customMetadata: Buffer.alloc(0),
          data: Buffer.from("{\"n\":1}")
        }],
        isFinal: true
      })
    } else if (request.op === "read") {
      const call = client.read({
        options: {
          streamOption: { $case: "stream", value: { streamIdentifier, revisionOption: { $case: "start", value: empty } } },
          readDirection: 0,
          resolveLinks: false,
          countOption: { $case: "count", value: 100n },
          filterOption: { $case: "noFilter", value: empty },
          uuidOption: { content: { $case: "string", value: empty } },
          controlOption: undefined
        }
      }, { deadline })
      call.on("data", (_: ReadResp) => {})
      call.on("error", fail)
      call.on("end", succeed)
    } else {
      client.delete(
        { options: { streamIdentifier, expectedStreamRevision: { $case: "any", value: empty } } },
        new grpc.Metadata(),
        { deadline },
        (error: grpc.ServiceError | null, _: DeleteResp) => (error ? fail(error) : succeed())
      )
    }
  })

if (request.client === "grpc-js") await runGrpcJs()
else await runEffectEsdb()
