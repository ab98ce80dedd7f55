/**
 * The node's scavenges: at most one at a time, started and stopped through the Operations
 * service, each logged as a real node logs it, through the store's ordinary append path:
 *
 * - `$$$scavenges` (once) and `$$$scavenges-<id>`: `$metadata` with `$maxAge` (the history's 30
 *   days) and `$acl` `$r: $ops`;
 * - `$scavenges-<id>`: `$scavengeStarted` `{scavengeId, nodeEndpoint}`, later `$scavengeCompleted`
 *   `{scavengeId, nodeEndpoint, result, error, timeTaken, spaceSaved, maxChunkScavenged}` with
 *   `result` "Success" or "Stopped";
 * - `$scavenges`: a `$>` link (`N@$scavenges-<id>`) to each of those two events.
 *
 * Sources (kurrent-io/KurrentDB): `src/KurrentDB.Core/Services/Storage/StorageScavenger.cs` (one
 * scavenge at a time: InProgress with the running id; stop of the running id or "current" answers
 * Stopped once it has stopped, else NotFound with the running id), `src/KurrentDB.Core/
 * TransactionLog/Chunks/TFChunkScavengerLog.cs` (the events and links),
 * `src/KurrentDB.Core/TransactionLog/Scavenging/Scavenger.cs` (the started payload of the
 * current scavenger; stopping = cancellation, result Stopped).
 *
 * What a scavenge removes (`storage/Scavenge.ts`): the records deletes, tombstones, `$tb`,
 * `$maxCount` and `$maxAge` made unreachable, up to the records durable when it starts (its
 * scavenge point); with `--db` the log file is rewritten without them (positions and event numbers
 * kept), and `$scavenges-<id>` gets one `$scavengeChunksCompleted` (`chunkStartNumber` =
 * `chunkEndNumber` = 0: the log is one file) with the bytes saved, as `TFChunkScavengerLog.
 * ChunksScavenged` writes it per chunk range. Unlike a real node, the active part of the log is
 * scavenged too (a real node never scavenges its active 256 MiB chunk, so a small database would
 * save nothing). A scavenge that fails ends with result `Errored` and its error.
 * `$scavengePoints` is not written.
 *
 * The scavenge runs as an Effect with the node's services (its `Clock`), so `delayMs` (a test
 * knob standing for a long scavenge) follows a `TestClock`.
 *
 * @since 0.1.0
 */
import { type Context, Effect } from "effect"
import { scavenge, type ScavengeOptions, type ScavengeResult } from "../storage/Scavenge.ts"
import type { ProposedEvent, Store } from "../storage/Store.ts"
import { newUuid } from "../codec/Uuid.ts"

/**
 * The answer of a start or stop, as `ScavengeResp`.
 *
 * @since 0.1.0
 * @category models
 */
export type ScavengeAnswer =
  | { readonly _tag: "Started"; readonly scavengeId: string }
  | { readonly _tag: "InProgress"; readonly scavengeId: string }
  | { readonly _tag: "Stopped"; readonly scavengeId: string }
  | { readonly _tag: "NotFound"; readonly currentId: string | undefined }

/**
 * Options of {@link Scavenges}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScavengesOptions {
  /** `host:port` of the node, written as `nodeEndpoint`. */
  readonly nodeEndpoint: () => string
  /** The services scavenges run with (their `Clock`). */
  readonly context: Context.Context<never>
  /** A scavenge waits this long before it starts its work (tests of stop); default 0. */
  readonly delayMs?: number | undefined
  /** Passed to the storage's scavenge (tests: slices, a pause or a crash before the switch). */
  readonly storage?: Partial<Pick<ScavengeOptions, "slice" | "pause" | "beforeSwitch">> | undefined
  /** Where each finished scavenge is reported (tests, logs). */
  readonly onCompleted?: ((result: ScavengeResult & { readonly scavengeId: string }) => void) | undefined
}

/** `ClusterVNodeOptions.Database.ScavengeHistoryMaxAge`: 30 days. */
const HISTORY_MAX_AGE_SECONDS = 30 * 24 * 3600

interface Running {
  readonly id: string
  readonly interrupt: () => void
  readonly done: Promise<void>
}

const json = (eventType: string, body: unknown, indent: boolean): ProposedEvent => ({
  eventId: newUuid(),
  eventType,
  isJson: true,
  data: Buffer.from(indent ? JSON.stringify(body, null, 2) : JSON.stringify(body), "utf8"),
  customMetadata: Buffer.alloc(0)
})

/** A .NET `TimeSpan` as Newtonsoft writes it: `[d.]hh:mm:ss[.fffffff]`. */
export const formatTimeSpan = (ms: number): string => {
  const ticks = Math.max(0, Math.round(ms * 10000))
  const totalSeconds = Math.floor(ticks / 1e7)
  const fraction = ticks % 1e7
  const days = Math.floor(totalSeconds / 86400)
  const pad = (n: number) => String(n).padStart(2, "0")
  const hms = `${pad(Math.floor(totalSeconds / 3600) % 24)}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}`
  return `${days > 0 ? `${days}.` : ""}${hms}${fraction > 0 ? `.${String(fraction).padStart(7, "0")}` : ""}`
}

/**
 * The scavenges of one node.
 *
 * @since 0.1.0
 * @category models
 */
export class Scavenges {
  private readonly store: Store
  private readonly options: ScavengesOptions
  private current: Running | undefined

  constructor(store: Store, options: ScavengesOptions) {
    this.store = store
    this.options = options
  }

  /** The running scavenge's id, if any. */
  get currentId(): string | undefined {
    return this.current?.id
  }

  /** Writes an event to `$scavenges-<id>` and links it from `$scavenges`. */
  private log(id: string, event: ProposedEvent): void {
    const stream = `$scavenges-${id}`
    const written = this.store.append(stream, { _tag: "Any" }, [event])
    if (written._tag !== "Success") return
    this.store.append("$scavenges", { _tag: "Any" }, [{
      eventId: newUuid(),
      eventType: "$>",
      isJson: false,
      data: Buffer.from(`${written.currentRevision}@${stream}`, "utf8"),
      customMetadata: Buffer.alloc(0)
    }])
  }

  /** Starts a scavenge, or answers InProgress with the running one's id. */
  start(_threads: number, _startFromChunk: number): ScavengeAnswer {
    if (this.current !== undefined) return { _tag: "InProgress", scavengeId: this.current.id }
    const id = newUuid()
    const nodeEndpoint = this.options.nodeEndpoint()
    const delayMs = this.options.delayMs ?? 0
    const history = () =>
      json("$metadata", { "$maxAge": HISTORY_MAX_AGE_SECONDS, "$acl": { "$r": "$ops", "$w": [], "$d": [], "$mr": [], "$mw": [] } }, false)
    // a real node sets `$$$scavenges` when it becomes leader (TFChunkScavengerLogManager.Initialise);
    // here, before the first scavenge, so that a fresh node's log starts as PROTOCOL.md §8 lists
    if (this.store.lastEventNumber("$$$scavenges") < 0) this.store.append("$$$scavenges", { _tag: "Any" }, [history()])
    this.store.append(`$$$scavenges-${id}`, { _tag: "Any" }, [history()])
    this.log(id, json("$scavengeStarted", { scavengeId: id, nodeEndpoint }, true))
    const log = (event: ProposedEvent) => this.log(id, event)
    const store = this.store
    const storage = this.options.storage
    const onCompleted = this.options.onCompleted
    const work = Effect.gen(function*() {
      const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      let halt = false
      let running: Promise<ScavengeResult> | undefined
      const complete = (result: "Success" | "Stopped" | "Errored", outcome: ScavengeResult | undefined, error: string | null) =>
        Effect.clockWith((clock) => clock.currentTimeMillis).pipe(
          Effect.map((now) => {
            const spaceSaved = outcome === undefined || outcome.stopped ? 0 : Math.max(0, outcome.sizeBefore - outcome.sizeAfter)
            if (outcome !== undefined && !outcome.stopped && outcome.sizeBefore > 0) {
              log(json("$scavengeChunksCompleted", {
                scavengeId: id,
                chunkStartNumber: 0,
                chunkEndNumber: 0,
                timeTaken: formatTimeSpan(now - started),
                wasScavenged: true,
                spaceSaved,
                nodeEndpoint,
                errorMessage: ""
              }, true))
            }
            log(json("$scavengeCompleted", {
              scavengeId: id,
              nodeEndpoint,
              result,
              error,
              timeTaken: formatTimeSpan(now - started),
              spaceSaved,
              maxChunkScavenged: 0
            }, true))
            if (outcome !== undefined) onCompleted?.({ ...outcome, scavengeId: id })
          })
        )
      const run = Effect.tryPromise({
        try: () => {
          // the store's clock: records' creation times (`$maxAge`) are taken from Date.now()
          running = scavenge(store.scavengeTarget(), { ...storage, now: Date.now(), stopped: () => halt })
          return running
        },
        catch: (e) => e
      })
      // no sleep at all without a delay: a TestClock would hold even a zero-length one
      yield* (delayMs > 0 ? Effect.sleep(delayMs) : Effect.void).pipe(
        Effect.andThen(run),
        Effect.matchEffect({
          onSuccess: (outcome) => complete(outcome.stopped ? "Stopped" : "Success", outcome, null),
          onFailure: (e) => complete("Errored", undefined, e instanceof Error ? e.message : String(e))
        }),
        Effect.onInterrupt(() => {
          halt = true
          // the storage stops between slices; its outcome says whether the switch was already made
          const pending = running
          return pending === undefined
            ? complete("Stopped", undefined, null)
            : Effect.promise(() => pending.then((o) => o, () => undefined)).pipe(
              Effect.flatMap((o) => complete(o === undefined || o.stopped ? "Stopped" : "Success", o, null))
            )
        })
      )
    })
    let finish: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      finish = resolve
    })
    // registered before it runs: without a delay it may finish within `runCallbackWith`
    let interrupt: () => void = () => {}
    this.current = { id, interrupt: () => interrupt(), done }
    interrupt = Effect.runCallbackWith(this.options.context)(work, {
      onExit: () => {
        if (this.current?.id === id) this.current = undefined
        finish()
      }
    })
    return { _tag: "Started", scavengeId: id }
  }

  /** Stops the running scavenge (by id, or "current"): Stopped once it has stopped. */
  stop(scavengeId: string): Promise<ScavengeAnswer> | ScavengeAnswer {
    const running = this.current
    if (running === undefined || (running.id !== scavengeId && scavengeId !== "current")) {
      return { _tag: "NotFound", currentId: running?.id }
    }
    running.interrupt()
    return running.done.then(() => ({ _tag: "Stopped", scavengeId: running.id }))
  }

  /** Stops any running scavenge (node shutdown). */
  close(): Promise<void> {
    const running = this.current
    if (running === undefined) return Promise.resolve()
    running.interrupt()
    return running.done
  }
}
