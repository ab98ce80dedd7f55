/**
 * The acks and nacks a persistent-subscription consumer made, waiting to be sent: a queue drained
 * in batches, when `batchSize` ids wait (at once, by whoever queued the last one) or `delay` after
 * the first of them (by a fiber sleeping on Effect's `Clock`, so `TestClock` drives it).
 *
 * Why not a `Queue` drained by `Stream.groupedWithin`: the batches would then be written by the
 * draining fiber, which the scheduler wakes in a later turn of the event loop (`setImmediate`),
 * while the consumer that acked a full batch could write it in the turn that delivered its events.
 * BENCHMARKS.md section 11 found that one extra event-loop turn per round trip is what made this
 * consumer cost more than raw grpc-js; here a full batch is written in that same turn, as the
 * floor writes it, and the fiber only wakes for a batch that is not full within `delay`.
 *
 * The fiber sleeps while ids wait and parks when none do: it costs one wake-up and one sleep per
 * `delay` while acks flow, none when they do not.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ReadReq, ReadReq_Nack_Action } from "../../generated/persistent.ts"
import { uuidString } from "../convert.ts"
import type { DuplexCall } from "../transport/Transport.ts"

/** What nacks of one batch carry: their action and reason. @internal */
export interface NackOf {
  readonly action: ReadReq_Nack_Action
  readonly reason: string
}

/** A queued batch: acks, or nacks with one action and reason. */
interface Pending {
  readonly nack: NackOf | undefined
  readonly ids: Array<string>
}

/** The Ack and Nack messages' own id, unused by the node: empty (never written to). */
const NO_ID = Buffer.alloc(0)

/** @internal */
export interface AckQueueOptions {
  /** A batch goes once this many ids wait. */
  readonly batchSize: number
  /** ...or this many milliseconds after the first of them was queued. */
  readonly delayMillis: number
  /** Where time comes from (the subscription's `Clock`, captured when it was made). */
  readonly clock: Clock.Clock
  /** The call that carries what is sent: the newest run's, none between runs. */
  readonly call: () => DuplexCall<ReadReq> | undefined
}

/** @internal */
export class AckQueue {
  /** What waits, in order: runs of acks, or of nacks with one action and reason. */
  private pending: Array<Pending> = []
  /** How many ids wait. */
  private waiting = 0
  /** When the first of what waits was queued, or when the last batch went by delay or at a run's start. */
  private since = 0
  /** Set while the delay's fiber is parked: wakes it. */
  private wake: (() => void) | undefined = undefined
  /** Set when a flush found no call to carry what waits: the fiber parks until more is queued. */
  private blocked = false
  private readonly options: AckQueueOptions

  constructor(options: AckQueueOptions) {
    this.options = options
  }

  /** The time now, from the subscription's Clock. */
  now(): number {
    return this.options.clock.currentTimeMillisUnsafe()
  }

  /**
   * Whether acks or nacks went lately: ids waiting, or a batch started (or sent by the delay, or
   * at a run's start) within the delay + `graceMillis`. These are what the node may not have read yet.
   */
  recent(graceMillis: number): boolean {
    return this.waiting > 0 || this.now() - this.since < this.options.delayMillis + graceMillis
  }

  /** Queues one ack id (the per-event path: no array of ids made for it). */
  ack(id: string): void {
    const pending = this.pending
    const last = pending.length === 0 ? undefined : pending[pending.length - 1]!
    if (last !== undefined && last.nack === undefined) last.ids.push(id)
    else pending.push({ nack: undefined, ids: [id] })
    this.queued(1)
  }

  /** Queues ids (a fresh array, kept as it is when it starts a new run) as acks, or nacks. */
  add(ids: Array<string>, nack: NackOf | undefined): void {
    if (ids.length === 0) return
    const last = this.pending[this.pending.length - 1]
    const same = last !== undefined &&
      (last.nack === undefined
        ? nack === undefined
        : nack !== undefined && last.nack.action === nack.action && last.nack.reason === nack.reason)
    if (same) {
      for (const id of ids) last.ids.push(id)
    } else this.pending.push({ nack, ids })
    this.queued(ids.length)
  }

  /** After ids were queued: send at once when a batch is full, else make sure the delay runs. */
  private queued(count: number): void {
    if (this.waiting === 0) this.since = this.now()
    this.waiting += count
    if (this.waiting >= this.options.batchSize) this.flush()
    else if (this.wake !== undefined) this.wake()
  }

  /** Sends what waits on the newest call, if there is one. */
  flush(): void {
    if (this.pending.length === 0) return
    const call = this.options.call()
    if (call === undefined) {
      this.blocked = true
      return
    }
    this.blocked = false
    const batches = this.pending
    this.pending = []
    this.waiting = 0
    for (const b of batches) {
      const ids = b.ids.map(uuidString)
      call.write(
        b.nack === undefined
          ? { content: { $case: "ack", value: { id: NO_ID, ids } } }
          : { content: { $case: "nack", value: { id: NO_ID, ids, action: b.nack.action, reason: b.nack.reason } } }
      )
    }
  }

  /** Sends what waits and marks the time (a run's start): closing counts it as sent lately. */
  flushMarked(): void {
    if (this.waiting === 0) return
    this.flush()
    this.since = this.now()
  }

  /** Parks the delay's fiber until ids are queued. */
  private readonly idle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.wake = () => {
      this.wake = undefined
      resume(Effect.void)
    }
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  /**
   * The delay: sends what waits `delay` after the first of it was queued, unless a full batch
   * sent it before. Runs until interrupted (the subscription's scope closing).
   */
  readonly delay: Effect.Effect<never> = Effect.suspend(() => {
    const self = this
    const { clock, delayMillis } = this.options
    return Effect.gen(function*() {
      while (true) {
        if (self.waiting === 0 || self.blocked) {
          self.blocked = false
          yield* self.idle
        }
        while (self.waiting > 0 && !self.blocked) {
          const left = self.since + delayMillis - self.now()
          if (left > 0) {
            yield* clock.sleep(Duration.millis(left))
            continue
          }
          self.flush()
          // when the batch went, for closing (a late fiber sends it after since + delay)
          self.since = self.now()
        }
      }
    })
  })
}
