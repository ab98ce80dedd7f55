/**
 * The client stays bounded against a hostile server (issue 7, item 2): for each misbehaviour of
 * test/support/hostileServer.ts, one call through the public API — `append` (BatchAppend),
 * `read` (a server stream) and `delete` (unary) — made with a deadline in a child process of
 * its own ends in one of the package's tagged errors within the deadline (plus a margin for a
 * loaded machine), and the child's RSS grows by less than 100 MB.
 *
 * Protocol violations (the floods, endless or oversized header blocks, a WINDOW_UPDATE that
 * overflows the stream's send window, a HEADERS frame too short for its PRIORITY fields) must be
 * detected, not waited out: the client resets the stream or the connection within a third of its
 * deadline (raw grpc-js: within a few ms), where waiting out would react at the deadline.
 *
 * Nothing here depends on the machine's speed beyond generous bounds: the child's start (loading
 * the modules, a few seconds on a loaded machine) is not timed, only the call.
 *
 * The same scenarios run against raw grpc-js (the benchmark floor's channel options) to show
 * that the harness is right: grpc-js fails each within milliseconds, at a few MB.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { eventuallyAsync } from "../support/eventually.ts"
import type { HostileRequest, HostileResult } from "../support/hostileClient.ts"
import { type HostileServer, type Scenario, scenarios, startHostileServer } from "../support/hostileServer.ts"

const clientScript = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "hostileClient.ts")

/** The deadline of a call that can only end at its deadline (the server never answers). */
const DEADLINE_MS = 2000
/**
 * The deadline of a call to a server that does answer, with a protocol violation or an oversized
 * message: long, so that detecting the violation (within {@link DETECT_MS}) and waiting it out (at
 * the deadline) are far apart, and so that a loaded machine's slow connect (seconds, seen in a full
 * run) does not use the deadline up before the server's answer. Such calls end at the answer, so
 * the long deadline costs no time.
 */
const VIOLATION_DEADLINE_MS = 6000
/** What a call may take beyond its deadline: timers, the child's event loop, a loaded 2-core machine. */
const MARGIN_MS = 1500
/** The parent kills a child that has not started its call after this long (loading under load). */
const START_BOUND_MS = 120_000
/** … or that has not reported this long after its deadline (the child reports `Hung` at +8 s itself). */
const HUNG_BOUND_MS = 15_000
/** The vitest timeout of a test: the child's start and its call, with room. */
const TEST_TIMEOUT_MS = START_BOUND_MS + VIOLATION_DEADLINE_MS + HUNG_BOUND_MS
/** The issue's bound on memory growth. */
const MAX_GROWTH_MB = 100
/** The parent kills a child whose RSS passes this, should the child not stop itself. */
const HARD_RSS_MB = 1500

/**
 * The tags an effect-esdb call may end with, per scenario. A server that does not answer runs
 * into the deadline; one that breaks the HTTP/2 protocol leaves the connection unusable
 * (ServiceUnavailable, or the deadline if retries use it up); a message larger than the channel
 * accepts is RESOURCE_EXHAUSTED, a GrpcError.
 */
const expectedTags: Record<Scenario, ReadonlyArray<string>> = {
  "continuation": ["ServiceUnavailable", "DeadlineExceeded"],
  "huge-message": ["GrpcError"],
  "ping-flood": ["ServiceUnavailable", "DeadlineExceeded"],
  "settings-flood": ["ServiceUnavailable", "DeadlineExceeded"],
  "huge-headers": ["ServiceUnavailable", "DeadlineExceeded"],
  "window-overflow": ["ServiceUnavailable", "DeadlineExceeded"],
  "short-priority": ["ServiceUnavailable", "DeadlineExceeded"],
  "no-answer": ["DeadlineExceeded"],
  "silent": ["DeadlineExceeded"]
}

/** What raw grpc-js 1.14 does against each scenario (the harness's check). */
const grpcJsStatus: Record<Scenario, string> = {
  "continuation": "grpc:INTERNAL", // "Too many CONTINUATION frames following a HEADER frame"
  "huge-message": "grpc:RESOURCE_EXHAUSTED", // "Received message larger than max"
  "ping-flood": "grpc:INTERNAL", // "Flooding was detected in this HTTP/2 session"
  "settings-flood": "grpc:INTERNAL", // "Flooding was detected in this HTTP/2 session"
  "huge-headers": "grpc:INTERNAL", // "Protocol error" (header list too large)
  "window-overflow": "grpc:INTERNAL", // "Flow control error"
  "short-priority": "grpc:INTERNAL", // "Protocol error"
  "no-answer": "grpc:DEADLINE_EXCEEDED",
  "silent": "grpc:DEADLINE_EXCEEDED"
}

/**
 * Protocol violations the client must detect rather than wait out: it resets the stream or the
 * connection within {@link DETECT_MS} of the violation (raw grpc-js: within a few ms).
 */
const mustBeDetected: ReadonlySet<Scenario> = new Set([
  "continuation",
  "ping-flood",
  "settings-flood",
  "huge-headers",
  "window-overflow",
  "short-priority"
])
const DETECT_MS = VIOLATION_DEADLINE_MS / 3

/** Scenarios whose server never answers: their calls can only end at the deadline. */
const neverAnswers: ReadonlySet<Scenario> = new Set(["no-answer", "silent"])

/** The deadline a scenario's calls are made with. */
const deadlineOf = (scenario: Scenario): number => (neverAnswers.has(scenario) ? DEADLINE_MS : VIOLATION_DEADLINE_MS)

const rssOfPid = (pid: number): number => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/**
 * Runs test/support/hostileClient.ts in a child process and returns what it reports. A child that
 * does not start its call within {@link START_BOUND_MS}, or does not report within
 * {@link HUNG_BOUND_MS} after its deadline, is killed (and the test fails).
 */
const runClient = (request: HostileRequest): Promise<HostileResult> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--experimental-strip-types", "--no-warnings", clientScript, JSON.stringify(request)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let err = ""
    let killedFor: string | undefined
    const kill = (why: string) => {
      killedFor ??= why
      child.kill("SIGKILL")
    }
    let timer = setTimeout(() => kill(`the call did not start within ${START_BOUND_MS} ms`), START_BOUND_MS)
    let started = false
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (!started && out.split("\n").includes("START")) {
        // the call started: from here on it has its deadline and a bound after it
        started = true
        clearTimeout(timer)
        timer = setTimeout(
          () => kill(`no result within the deadline + ${HUNG_BOUND_MS} ms of the call's start`),
          request.deadlineMs + HUNG_BOUND_MS
        )
      }
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    const guard = setInterval(() => {
      if (child.pid !== undefined && rssOfPid(child.pid) > HARD_RSS_MB) kill(`RSS above ${HARD_RSS_MB} MB`)
    }, 50)
    child.on("exit", (code, signal) => {
      clearInterval(guard)
      clearTimeout(timer)
      const line = out.split("\n").find((l) => l.startsWith("RESULT "))
      if (line !== undefined) return resolve(JSON.parse(line.slice("RESULT ".length)) as HostileResult)
      reject(
        new Error(
          `the client exited with ${code ?? signal}${killedFor ? ` (killed: ${killedFor})` : ""} without a result; stderr: ${
            err.slice(0, 2000)
          }`
        )
      )
    })
  })

const describeResult = (r: HostileResult) =>
  `${r.tag} after ${r.elapsedMs} ms, RSS ${r.rssBeforeMb} → peak ${r.rssPeakMb} MB (+${r.rssGrowthMb} MB): ${r.message}`

/**
 * The client's reaction time to the server's first violation. The child has exited by now, and
 * the close of its socket counts as a reaction (late, if the client did nothing before), so the
 * server sees one as soon as its event loop reads the close; Infinity if it never does.
 */
const reactionMs = (server: HostileServer): Promise<number> =>
  eventuallyAsync("the server saw the client's reaction", () => server.firstReactionMs(), {
    until: (ms) => ms !== undefined,
    timeoutMs: 10_000
  }).then((ms) => ms ?? Number.POSITIVE_INFINITY, () => Number.POSITIVE_INFINITY)

/** Starts a hostile server for one test, runs `f` against it, and closes it. */
const withServer = async <A>(scenario: Scenario, f: (server: HostileServer) => Promise<A>): Promise<A> => {
  const server = await startHostileServer(scenario)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

// the tests run a few at once (vitest's maxConcurrency), each client in its own process against
// its own server, so that the file takes about a minute
describe.concurrent("the client against a hostile server", () => {
  for (const scenario of scenarios) {
    describe(scenario, () => {
      for (const op of ["append", "read", "delete"] as const) {
        it.concurrent(`${op}: a typed error within the deadline, RSS growth < ${MAX_GROWTH_MB} MB`, () =>
          withServer(scenario, async (server) => {
            const result = await runClient({ port: server.port, op, client: "effect-esdb", deadlineMs: deadlineOf(scenario) })
            const what = describeResult(result)
            expect(server.accepted(), "the client reached the server").toBeGreaterThan(0)
            expect(result.typed, `one of the package's tagged errors: ${what}`).toBe(true)
            expect(expectedTags[scenario], what).toContain(result.tag)
            expect(result.elapsedMs, what).toBeLessThanOrEqual(deadlineOf(scenario) + MARGIN_MS)
            expect(result.rssGrowthMb, what).toBeLessThan(MAX_GROWTH_MB)
            if (mustBeDetected.has(scenario)) {
              expect(await reactionMs(server), `ms until the client reset the stream or connection after the violation: ${what}`)
                .toBeLessThanOrEqual(DETECT_MS)
            }
          }), TEST_TIMEOUT_MS)
      }

      it.concurrent("harness check: raw grpc-js BatchAppend fails fast and small", () =>
        withServer(scenario, async (server) => {
          const result = await runClient({ port: server.port, op: "append", client: "grpc-js", deadlineMs: deadlineOf(scenario) })
          const what = describeResult(result)
          expect(result.tag, what).toBe(grpcJsStatus[scenario])
          expect(result.elapsedMs, what).toBeLessThanOrEqual(deadlineOf(scenario) + MARGIN_MS)
          expect(result.rssGrowthMb, what).toBeLessThan(MAX_GROWTH_MB)
          if (mustBeDetected.has(scenario)) expect(await reactionMs(server), what).toBeLessThanOrEqual(DETECT_MS)
        }), TEST_TIMEOUT_MS)
    })
  }
})
