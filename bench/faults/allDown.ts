/**
 * Scenario 4: every member is killed (their ports refuse connections). A call then fails with
 * `DiscoveryFailed` after `maxDiscoverAttempts` rounds, within the bound the settings give:
 * `maxDiscoverAttempts × seeds × gossipTimeout + (maxDiscoverAttempts − 1) × discoveryInterval`
 * (`GossipTimeout` is in seconds, as in the official clients' strings)
 * (plus a slack for a loaded machine, whose timers fire late: 1 s and a fifth of the bound), and
 * no sooner than the rounds' intervals. Then
 * the same with seeds that accept connections and never answer (TCP listeners on the members'
 * ports): every gossip read waits `gossipTimeout`, so it takes the whole bound. A stream subscription started
 * before the outage keeps resuming meanwhile (each resume logged); after `downMs` the members come
 * back, more events are appended, and the subscription delivers them all: no gap, no duplicate.
 * Figures: the time to DiscoveryFailed and its bound, the subscription's resumes, the time from
 * the members' return to the subscription's next event.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import { firstDifference, measured, waitFor, warningLog, withClient, withCluster } from "./common.ts"

/** Settings of the scenario. */
export interface AllDownOptions {
  readonly maxDiscoverAttempts: number
  readonly discoveryInterval: number
  /** Seconds, as the connection string gives it. */
  readonly gossipTimeout: number
  /** How long the members stay down after DiscoveryFailed, ms. */
  readonly downMs: number
}

/** TCP listeners on `ports` that accept connections and never answer (seeds that hang). */
const blackholes = (host: string, ports: ReadonlyArray<number>): Promise<() => Promise<void>> => {
  const sockets = new Set<net.Socket>()
  const servers = ports.map((port) =>
    new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
      })
      server.once("error", reject)
      server.listen(port, host, () => resolve(server))
    })
  )
  return Promise.all(servers).then((listening) => () => {
    // stop accepting first, then drop what was accepted (close resolves once those are gone)
    const closed = Promise.all(listening.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
    for (const socket of sockets) socket.destroy()
    return closed.then(() => {})
  })
}

const events = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => new NewEvent({ type: "E", data: JSON.stringify({ i: from + i }) }))

/** Runs the scenario. */
export const allDown = (options: AllDownOptions) =>
  measured("all-down", withCluster({}, (cluster) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const log = warningLog()
      const stream = `all-down-${Date.now()}`
      const seeds = cluster.members().length
      const settings =
        `&maxDiscoverAttempts=${options.maxDiscoverAttempts}&discoveryInterval=${options.discoveryInterval}&gossipTimeout=${options.gossipTimeout}`
      const bound = options.maxDiscoverAttempts * seeds * options.gossipTimeout * 1000 +
        (options.maxDiscoverAttempts - 1) * options.discoveryInterval
      const slack = 1000 + bound / 5
      const figures = yield* withClient(
        `${cluster.connectionString}${settings}`,
        log.capture(Effect.gen(function*() {
          const api = yield* Streams.Streams
          const before = events(10, 0)
          const after = events(10, 10)
          yield* api.append(stream, before, { currentVersion: "no_stream" })
          const delivered: Array<string> = []
          let lastDelivery = 0
          const subscription = yield* Effect.forkChild(
            api.subscribeToStream(stream).pipe(
              Stream.runForEach((e) => Effect.sync(() => {
                delivered.push(e.id)
                lastDelivery = performance.now()
              }))
            )
          )
          if (!(yield* waitFor(() => delivered.length === 10))) violations.push("the subscription did not start")
          const members = cluster.members().map((m) => m.index)
          const leader = cluster.leader()!
          // the leader first (the others elect, then lose their majority)
          for (const i of [leader, ...members.filter((i) => i !== leader)]) yield* Effect.promise(() => cluster.kill(i))
          const t0 = performance.now()
          const error = yield* Effect.flip(api.append(stream, after, { currentVersion: 9n }))
          const discoveryMs = performance.now() - t0
          if (error._tag !== "DiscoveryFailed") violations.push(`expected DiscoveryFailed, got ${error._tag}: ${error.message}`)
          else if (error.attempts !== options.maxDiscoverAttempts) {
            violations.push(`DiscoveryFailed after ${error.attempts} attempts, not ${options.maxDiscoverAttempts}`)
          }
          if (discoveryMs > bound + slack) violations.push(`DiscoveryFailed after ${Math.round(discoveryMs)} ms, over the bound ${bound} ms`)
          // the rounds are DiscoveryInterval apart
          const floor = (options.maxDiscoverAttempts - 1) * options.discoveryInterval
          if (discoveryMs < floor * 0.9) violations.push(`DiscoveryFailed after ${Math.round(discoveryMs)} ms, before the rounds' intervals (${floor} ms)`)
          // seeds that accept connections and never answer: each gossip read waits GossipTimeout
          const close = yield* Effect.promise(() => blackholes("127.0.0.1", cluster.members().map((m) => m.port)))
          const t1 = performance.now()
          // (its deadline past the bound: it is discovery's own failure that is measured)
          const hung = yield* Effect.flip(api.append(stream, after, { currentVersion: 9n, timeout: bound + 10_000 }))
          const hungMs = performance.now() - t1
          yield* Effect.promise(close)
          if (hung._tag !== "DiscoveryFailed") violations.push(`hanging seeds: expected DiscoveryFailed, got ${hung._tag}: ${hung.message}`)
          else if (hung.attempts !== options.maxDiscoverAttempts) {
            violations.push(`hanging seeds: DiscoveryFailed after ${hung.attempts} attempts, not ${options.maxDiscoverAttempts}`)
          }
          if (hungMs > bound + slack) violations.push(`hanging seeds: DiscoveryFailed after ${Math.round(hungMs)} ms, over the bound ${bound} ms`)
          if (hungMs < bound * 0.9) violations.push(`hanging seeds: DiscoveryFailed after ${Math.round(hungMs)} ms: a gossip read did not wait GossipTimeout`)
          const resumesWhileDown0 = log.count("resume", "Streams.subscribeToStream")
          yield* Effect.sleep(options.downMs)
          const resumesWhileDown = log.count("resume", "Streams.subscribeToStream")
          if (resumesWhileDown === 0) violations.push("the subscription logged no resume while the cluster was down")
          const back = performance.now()
          for (const i of members) yield* Effect.promise(() => cluster.restart(i))
          const restartMs = performance.now() - back
          if (cluster.leader() === undefined) violations.push("no leader after the members came back")
          yield* api.append(stream, after, { currentVersion: 9n }).pipe(
            Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 }))),
            Effect.catchCause((cause) => Effect.sync(() => void violations.push(`the append after the return failed: ${cause}`)))
          )
          if (!(yield* waitFor(() => delivered.length >= 20, 60_000))) {
            violations.push(`the subscription delivered ${delivered.length - 10} of 10 events after the return`)
          }
          yield* Effect.sleep(100)
          yield* Fiber.interrupt(subscription)
          const d = firstDifference(delivered, [...before, ...after].map((e) => e.id))
          if (d !== "") violations.push(`the subscription's events differ from the stream ${d}`)
          return {
            seeds,
            ...options,
            discoveryFailedMs: Math.round(discoveryMs),
            boundMs: bound,
            attempts: error._tag === "DiscoveryFailed" ? error.attempts : null,
            hangingSeedsDiscoveryFailedMs: Math.round(hungMs),
            hangingSeedsReason: hung._tag === "DiscoveryFailed" ? hung.reason : hung.message,
            subscriptionResumes: resumesWhileDown,
            subscriptionResumesAtDiscoveryFailed: resumesWhileDown0,
            restartMs: Math.round(restartMs),
            returnToDeliveredMs: lastDelivery > back ? Math.round(lastDelivery - back) : null
          }
        })),
        { retrySchedule: Schedule.recurs(0) }
      )
      return { violations, ...figures }
    })))
