/**
 * The connections of a transport: a pool of grpc-js channels (one HTTP/2 connection each), every
 * one living in its own `Scope`. Closing a connection is closing its scope: that closes the
 * channel and ends the long-lived calls it holds (each in a child scope of it). The pool's own
 * scope is the transport's: when it closes, every connection closes with `ConnectionClosed`.
 *
 * - The primary connection carries single-reply calls and the shared BatchAppend call.
 * - Long-lived calls (reads, subscriptions, persistent consumers) take a place on a connection
 *   with room (`streamsPerChannel` each); when none has room another is opened, up to
 *   `maxConnections` in all. Beyond that, calls wait for a place (a semaphore holds one permit
 *   per place).
 * - An extra connection left without calls is closed after `idleTimeout` (by the Clock).
 * - A failure that calls for it replaces every connection (to the leader the failure named, or
 *   rediscovering); `reconnect` does so on request, one at a time.
 * - One connect (and so one discovery) at a time: however many fibers find the connection gone
 *   at once, the first starts connecting and the others wait for it and share its result, its
 *   failure included (they do not each discover in turn). The next call after a failed connect
 *   starts a new one.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { ConnectionClosed } from "../../errors/ConnectionClosed.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import { type ConnectionSettings, type Endpoint, formatEndpoint } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import { MAX_DEADLINE_MS } from "./Deadline.ts"
import { discover, type DiscoveryError, readGossipOverGrpc, type ResolveHost, resolveHostByDns, type Seed } from "./Discovery.ts"

/**
 * One HTTP/2 connection (a grpc-js channel with its own subchannel pool) in its own scope.
 *
 * @internal
 */
export interface Slot {
  readonly endpoint: Endpoint
  readonly channel: grpc.Channel
  readonly client: grpc.Client
  readonly generation: number
  /** Closed when the connection is: closes the channel and ends the calls held in it. */
  readonly scope: Scope.Closeable
  /** Long-lived calls holding a place on it. */
  active: number
  /** Counts the times it was left without calls: an idle timer closes it only if still the same. */
  idled: number
  /** Why it was closed (handed to the calls it ends); set before its scope closes. */
  reason: CallError | undefined
}

/**
 * Failures of {@link ChannelPool.reconnect}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReconnectError = DiscoveryError | ConnectionClosed | ServiceUnavailable

/**
 * How the pool is sized.
 *
 * @internal
 */
export interface PoolOptions {
  readonly settings: ConnectionSettings
  readonly credentials: grpc.ChannelCredentials
  readonly channelOptions: grpc.ChannelOptions
  readonly streamsPerChannel: number
  readonly maxConnections: number
  readonly idleTimeout: Duration.Duration
  /** Resolves the host of a `+discover` string to its addresses (default: the system resolver). */
  readonly resolveHost?: ResolveHost | undefined
}

/**
 * The pool.
 *
 * @internal
 */
export interface ChannelPool {
  /** The primary connection (connecting, or discovering, when there is none). */
  readonly primary: Effect.Effect<Slot, DiscoveryError | ConnectionClosed>
  /** The primary connection when one is open and has not failed (`primary` then needs no connect). */
  readonly connected: () => Slot | undefined
  /**
   * A place for a long-lived call on a connection with room, held until the scope closes;
   * waits while every place of `maxConnections` connections is taken.
   */
  readonly acquireLong: Effect.Effect<Slot, DiscoveryError | ConnectionClosed, Scope.Scope>
  /** Replaces the connections after `error` on `slot`, when `slot` is still current. */
  readonly invalidate: (slot: Slot, error: CallError) => Effect.Effect<void>
  readonly reconnect: Effect.Effect<void, ReconnectError>
  readonly generation: () => number
  readonly isClosed: () => boolean
  /** The endpoint of the last connection opened (for diagnosing a failure to connect). */
  readonly lastEndpoint: () => Endpoint | undefined
  /** Connections open now. */
  readonly size: () => number
  readonly closedError: () => ConnectionClosed
  /** Closes the pool for good: every connection with ConnectionClosed (also done when its scope closes). */
  readonly close: Effect.Effect<void>
}

const replaced = () => new ServiceUnavailable({ reason: "The connection was replaced" })
const closedError = () => new ConnectionClosed({ reason: "The connection was closed: the scope of its layer has ended" })

const targetOf = (endpoint: Endpoint) =>
  endpoint.host.includes(":") && !endpoint.host.startsWith("[")
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`

/**
 * Makes a pool in the current scope (no connection until the first call).
 *
 * @internal
 */
export const make = (options: PoolOptions): Effect.Effect<ChannelPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { settings, credentials, channelOptions, streamsPerChannel } = options
    const maxConnections = Math.max(1, options.maxConnections)
    const poolScope = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    const places = yield* Semaphore.make(maxConnections * streamsPerChannel)

    // the pool's state: read on every call, changed under the lock
    const state = {
      closed: false,
      generation: 0,
      slots: [] as Array<Slot>,
      leaderHint: undefined as Endpoint | undefined,
      failedEndpoint: undefined as Endpoint | undefined,
      lastEndpoint: undefined as Endpoint | undefined,
      reconnecting: undefined as Deferred.Deferred<void, ReconnectError> | undefined,
      connecting: undefined as Deferred.Deferred<Slot, DiscoveryError | ConnectionClosed> | undefined
    }

    // Every channel gets its own subchannel pool, hence its own HTTP/2 connection: extra channels
    // must not share the primary's connection (that is their point), and grpc-js's global pool
    // would keep a closed client's connection open for up to 20 seconds (and share it between
    // clients). Calls still running on a closed channel finish there (grpc-js keeps the
    // connection until its last call ends); the long-lived calls held in its scope are ended.
    const openSlot = (endpoint: Endpoint): Effect.Effect<Slot> =>
      Effect.suspend(() => {
        const target = targetOf(endpoint)
        const channel = new grpc.Channel(target, credentials, { ...channelOptions, "grpc.use_local_subchannel_pool": 1 })
        const client = new grpc.Client(target, credentials, { channelOverride: channel })
        const scope = Scope.forkUnsafe(poolScope)
        const slot: Slot = { endpoint, channel, client, generation: state.generation, scope, active: 0, idled: 0, reason: undefined }
        // the first finalizer added runs last: the calls held in the scope are ended before the
        // channel closes
        return Effect.as(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => {
              client.close()
              channel.close()
            })
          ),
          slot
        )
      })

    // under the lock
    const openExtra = (endpoint: Endpoint): Effect.Effect<Slot> =>
      Effect.map(openSlot(endpoint), (slot) => {
        state.slots.push(slot)
        return slot
      })

    const closeSlot = (slot: Slot, reason: CallError): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (slot.reason === undefined) slot.reason = reason
        return Scope.close(slot.scope, Exit.void)
      })

    // under the lock
    const closeAll = (reason: CallError): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slots = state.slots
        state.slots = []
        return Effect.forEach(slots, (slot) => closeSlot(slot, reason), { discard: true })
      })

    // a seed resolved from the cluster's name is dialled by address, and verified by that name
    const readGossip = (seed: Seed) =>
      readGossipOverGrpc(
        seed,
        credentials,
        settings.tls && seed.serverName !== undefined
          ? { ...channelOptions, "grpc.ssl_target_name_override": seed.serverName, "grpc.default_authority": seed.serverName }
          : channelOptions,
        settings.gossipTimeout
      )
    // where the next connection goes, and why (for the log)
    const resolveEndpoint: Effect.Effect<{ readonly endpoint: Endpoint; readonly why: string }, DiscoveryError> = Effect
      .suspend(() => {
        if (state.leaderHint !== undefined) {
          const hint = state.leaderHint
          state.leaderHint = undefined
          return Effect.succeed({ endpoint: hint, why: "the leader a follower named" })
        }
        if (!settings.discover) return Effect.succeed({ endpoint: settings.hosts[0]!, why: "the node of the connection string" })
        return Effect.map(
          discover({
            seeds: settings.hosts,
            preference: settings.nodePreference,
            maxDiscoverAttempts: settings.maxDiscoverAttempts,
            discoveryInterval: Duration.millis(settings.discoveryInterval),
            gossipTimeout: Duration.millis(settings.gossipTimeout),
            failedEndpoint: state.failedEndpoint,
            // `+discover` names the cluster by a DNS name: every address it resolves to is a seed
            resolve: settings.scheme.endsWith("+discover") ? (options.resolveHost ?? resolveHostByDns) : undefined,
            readGossip
          }),
          (endpoint) => ({ endpoint, why: `discovered by gossip (NodePreference=${settings.nodePreference})` })
        )
      })

    // under the lock; a replacement (not the first connection) is logged
    const openPrimary: Effect.Effect<Slot, DiscoveryError | ConnectionClosed> = Effect.flatMap(
      resolveEndpoint,
      ({ endpoint, why }) => {
        if (state.closed) return Effect.fail(closedError())
        const previous = state.lastEndpoint
        state.generation++
        state.lastEndpoint = endpoint
        const log = previous === undefined ? Effect.void : Effect.logWarning(
          `effect-esdb: connecting to ${formatEndpoint(endpoint)}, ${why}, in place of ${formatEndpoint(previous)}`
        ).pipe(Effect.annotateLogs({ operation: "connection", action: "reconnect", endpoint: formatEndpoint(endpoint) }))
        return Effect.andThen(log, Effect.map(openSlot(endpoint), (slot) => {
          state.slots = [slot]
          return slot
        }))
      }
    )

    // One connect at a time, shared: fibers arriving while one runs wait for it and get its
    // result (a failed discovery fails them all at once instead of each discovering in turn).
    // It runs in the pool's scope, so a waiter interrupted does not cancel it for the others.
    const connect: Effect.Effect<Slot, DiscoveryError | ConnectionClosed> = Effect.suspend(() => {
      if (state.closed) return Effect.fail(closedError())
      const current = state.slots[0]
      if (current !== undefined && current.reason === undefined) return Effect.succeed(current)
      if (state.connecting !== undefined) return Deferred.await(state.connecting)
      const done = Deferred.makeUnsafe<Slot, DiscoveryError | ConnectionClosed>()
      state.connecting = done
      const run = lock.withPermits(1)(Effect.suspend(() => {
        if (state.closed) return Effect.fail(closedError())
        const slot = state.slots[0]
        return slot !== undefined && slot.reason === undefined ? Effect.succeed(slot) : openPrimary
      })).pipe(
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            state.connecting = undefined
            // interrupted only when the pool's scope closes
            return Exit.hasInterrupts(exit) ? Deferred.fail(done, closedError()) : Deferred.done(done, exit)
          })
        )
      )
      return Effect.andThen(Effect.forkIn(run, poolScope), Deferred.await(done))
    })

    // every call starts here: the common case (connected) takes no lock
    const primary: Effect.Effect<Slot, DiscoveryError | ConnectionClosed> = Effect.suspend(() => {
      if (state.closed) return Effect.fail(closedError())
      const current = state.slots[0]
      return current !== undefined && current.reason === undefined ? Effect.succeed(current) : connect
    })
    const connected = (): Slot | undefined => {
      const current = state.slots[0]
      return !state.closed && current !== undefined && current.reason === undefined ? current : undefined
    }

    // An extra connection left without calls is closed once it stayed so for `idleTimeout`
    // (without a call in between: `idled` would have moved on).
    const closeWhenIdle = (slot: Slot, idled: number): Effect.Effect<void> =>
      Effect.sleep(options.idleTimeout).pipe(
        Effect.andThen(lock.withPermits(1)(Effect.suspend(() => {
          if (slot.active > 0 || slot.idled !== idled || slot.reason !== undefined || state.slots[0] === slot) {
            return Effect.void
          }
          state.slots = state.slots.filter((s) => s !== slot)
          return closeSlot(slot, new ServiceUnavailable({ reason: "The connection was closed: idle" }))
        })))
      )

    const release = (slot: Slot): Effect.Effect<void> =>
      Effect.suspend(() => {
        slot.active--
        if (slot.active > 0 || slot.reason !== undefined || state.slots[0] === slot || state.closed) return Effect.void
        slot.idled++
        return Effect.asVoid(Effect.forkIn(closeWhenIdle(slot, slot.idled), poolScope))
      })

    // a place first (waiting, interruptibly, while all are taken), then the connection (found
    // interruptibly too: it may take a discovery, which a deadline or an interruption must be
    // able to cut short), then one with room, held until the scope closes (the lock is waited
    // for interruptibly: a reconnect may hold it through a discovery)
    const acquireLong: ChannelPool["acquireLong"] = Effect.andThen(
      Semaphore.takeScoped(places, 1),
      Effect.flatMap(primary, (first) =>
        Effect.acquireRelease(
          Effect.interruptible(lock.take(1)).pipe(Effect.andThen(Effect.ensuring(
            Effect.suspend(() => {
              if (state.closed) return Effect.fail(closedError())
              const room = state.slots.find((s) => s.active < streamsPerChannel && s.generation === first.generation)
              return Effect.map(room === undefined ? openExtra(first.endpoint) : Effect.succeed(room), (slot) => {
                slot.active++
                return slot
              })
            }),
            lock.release(1)
          ))),
          release
        ))
    )

    // Drops the slot's connection after a failure so the next call reconnects (to the leader,
    // when the failure named it).
    const invalidate: ChannelPool["invalidate"] = (slot, error) =>
      lock.withPermits(1)(Effect.suspend(() => {
        if (state.closed || slot.reason !== undefined || slot.generation !== state.generation) return Effect.void
        if (error._tag === "NodeIsNotLeader" && error.leader !== undefined) {
          state.leaderHint = { host: error.leader.host, port: error.leader.port }
        } else {
          state.failedEndpoint = slot.endpoint
        }
        return closeAll(replaced())
      }))

    // Waits until the slot's channel has connected (or failed to), starting the connection.
    const whenConnected = (slot: Slot): Effect.Effect<void, ServiceUnavailable> => {
      const timeout = Math.min(settings.defaultDeadline ?? 10_000, MAX_DEADLINE_MS)
      const failure = (what: string) =>
        new ServiceUnavailable({ reason: `Could not connect to ${slot.endpoint.host}:${slot.endpoint.port}${what}` })
      return Effect.callback<void, ServiceUnavailable>((resume) => {
        let done = false
        const check = () => {
          if (done) return
          const now = slot.channel.getConnectivityState(true)
          if (now === grpc.connectivityState.READY) return resume(Effect.void)
          if (now === grpc.connectivityState.TRANSIENT_FAILURE || now === grpc.connectivityState.SHUTDOWN) {
            return resume(Effect.fail(failure("")))
          }
          // grpc-js watches with a wall-clock deadline; the Clock's timeout below bounds the wait
          slot.channel.watchConnectivityState(now, Date.now() + timeout, (error) => {
            if (error === undefined) check()
          })
        }
        check()
        return Effect.sync(() => {
          done = true
        })
      }).pipe(
        Effect.timeoutOrElse({ duration: Duration.millis(timeout), orElse: () => Effect.fail(failure(" in time")) })
      )
    }

    // One reconnect at a time: fibers asking while one runs wait for it and share its result.
    const reconnect: ChannelPool["reconnect"] = Effect.suspend(() => {
      if (state.closed) return Effect.fail(closedError())
      if (state.reconnecting !== undefined) return Deferred.await(state.reconnecting)
      const done = Deferred.makeUnsafe<void, ReconnectError>()
      state.reconnecting = done
      const run: Effect.Effect<void, ReconnectError> = lock.withPermits(1)(Effect.suspend(() => {
        if (state.closed) return Effect.fail(closedError())
        return Effect.andThen(closeAll(replaced()), openPrimary)
      })).pipe(Effect.flatMap(whenConnected))
      return run.pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            state.reconnecting = undefined
          }).pipe(Effect.andThen(Deferred.done(done, exit)))
        )
      )
    })

    const close = lock.withPermits(1)(Effect.suspend(() => {
      state.closed = true
      return closeAll(closedError())
    }))
    yield* Effect.addFinalizer(() => close)

    return {
      primary,
      connected,
      acquireLong,
      invalidate,
      reconnect,
      generation: () => state.generation,
      isClosed: () => state.closed,
      lastEndpoint: () => state.lastEndpoint,
      size: () => state.slots.length,
      closedError,
      close
    } satisfies ChannelPool
  })
