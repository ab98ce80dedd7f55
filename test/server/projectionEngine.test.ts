import { assert, describe, it } from "@effect/vitest"
import {
  compileProjection,
  EMIT_NOT_ALLOWED,
  type EmittedEvent,
  type EngineOptions,
  fromRecord,
  type ProcessOutcome,
  type ProjectionEngine,
  type ProjectionEvent,
  type ProjectionInput
} from "../../src/server/projections/ProjectionEngine.ts"
import type { EventRecord } from "../../src/server/storage/Store.ts"

const encoder = new TextEncoder()

interface EventSpec {
  readonly stream: string
  readonly n: number
  readonly type: string
  readonly data?: unknown
  readonly raw?: string
  /** With `raw`: the event is flagged JSON all the same. */
  readonly isJsonRaw?: boolean
  readonly metadata?: unknown
  /** The `$>` link through which the event was read: its stream, number and metadata. */
  readonly via?: { readonly stream: string; readonly n: number; readonly metadata?: unknown }
}

const toEvent = (stream: string, n: number, type: string, isJson: boolean, body: string, metadata: unknown) => ({
  streamId: stream,
  eventNumber: n,
  eventType: type,
  isJson,
  data: encoder.encode(body),
  metadata: metadata === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(metadata))
}) satisfies ProjectionEvent

const input = (spec: EventSpec): ProjectionInput => {
  const isJson = spec.raw === undefined || spec.isJsonRaw === true
  const event = toEvent(spec.stream, spec.n, spec.type, isJson, spec.raw ?? JSON.stringify(spec.data ?? {}), spec.metadata)
  if (spec.via === undefined) return { event }
  const link = toEvent(spec.via.stream, spec.via.n, "$>", false, `${spec.n}@${spec.stream}`, spec.via.metadata)
  return { event, link }
}

interface Case {
  readonly name: string
  readonly query: string
  readonly options?: Partial<EngineOptions>
  readonly events: ReadonlyArray<EventSpec>
  /** Expected state per partition after all events (parsed JSON). */
  readonly states?: Record<string, unknown>
  /** Expected last result per partition (parsed JSON, or null when filtered out). */
  readonly results?: Record<string, unknown>
  /** Expected writes, in order, over all events. */
  readonly emitted?: ReadonlyArray<Omit<EmittedEvent, "metadata"> & { readonly metadata?: unknown }>
  /** Expected number of skipped events. */
  readonly skipped?: number
  /** Expected log lines, over all events. */
  readonly logs?: ReadonlyArray<string>
  /** Expected fault reason (exact string or pattern). */
  readonly fault?: string | RegExp
}

const orders: ReadonlyArray<EventSpec> = [
  { stream: "order-1", n: 0, type: "OrderPlaced", data: { amount: 10, region: "eu" } },
  { stream: "order-2", n: 0, type: "OrderPlaced", data: { amount: 5, region: "us" } },
  { stream: "user-1", n: 0, type: "UserCreated", data: { name: "ann" } },
  { stream: "order-1", n: 1, type: "OrderShipped", data: {} },
  { stream: "order-3", n: 0, type: "OrderPlaced", data: { amount: 1, region: "eu" } }
]

const cases: ReadonlyArray<Case> = [
  {
    name: "counting with $init over fromAll",
    query: `fromAll().when({ $init: function () { return { count: 0 } }, $any: function (s, e) { s.count++; return s } })`,
    events: orders,
    states: { "": { count: 5 } }
  },
  {
    name: "per-type handlers: other types are skipped, a handler returning undefined keeps the state",
    query: `fromAll().when({
      $init: function () { return { total: 0, seen: 0 } },
      OrderPlaced: function (s, e) { s.total += e.data.amount; s.seen++ },
      OrderShipped: function (s, e) { return undefined }
    })`,
    events: orders,
    states: { "": { total: 16, seen: 3 } },
    skipped: 1
  },
  {
    name: "no handler at all: the state is the last event's body",
    query: `fromStream("user-1")`,
    events: orders,
    states: { "": { name: "ann" } },
    skipped: 4
  },
  {
    name: "partitionBy: one state per partition the function names",
    query: `fromAll().partitionBy(function (e) { return e.body.region }).when({
      $init: function () { return { sum: 0 } },
      OrderPlaced: function (s, e) { s.sum += e.body.amount; s.partition = e.partition }
    })`,
    events: orders,
    states: { eu: { sum: 11, partition: "eu" }, us: { sum: 5, partition: "us" } },
    skipped: 2
  },
  {
    name: "foreachStream: one state per stream",
    query: `fromAll().foreachStream().when({ $init: function () { return { n: 0 } }, $any: function (s, e) { s.n++ } })`,
    events: orders,
    states: { "order-1": { n: 2 }, "order-2": { n: 1 }, "user-1": { n: 1 }, "order-3": { n: 1 } }
  },
  {
    name: "foreachStream: a metastream's event is its stream's partition; a link's $o names the partition (ByStreamStatePartitionSelector)",
    query: `fromAll().foreachStream().when({ $init: function () { return { n: 0 } }, $any: function (s, e) { s.n++ } })`,
    events: [
      { stream: "order-1", n: 0, type: "OrderPlaced", data: {} },
      { stream: "$$order-1", n: 0, type: "$metadata", data: { $maxCount: 5 } },
      { stream: "order-9", n: 0, type: "OrderPlaced", data: {}, via: { stream: "$ce-order", n: 3, metadata: { $o: "order-1" } } }
    ],
    states: { "order-1": { n: 3 } }
  },
  {
    name: "fromCategory: only the category's streams, read directly or through $ce- links",
    query: `fromCategory("order").foreachStream().when({ $init: function () { return { types: [] } }, $any: function (s, e) {
      s.types.push(e.eventType + "#" + e.sequenceNumber + " " + JSON.stringify(e.linkMetadata)) } })`,
    events: [
      ...orders,
      { stream: "order-4", n: 0, type: "OrderPlaced", data: {}, via: { stream: "$ce-order", n: 7, metadata: { via: "ce" } } },
      { stream: "user-2", n: 0, type: "UserCreated", data: {}, via: { stream: "$ce-user", n: 0 } }
    ],
    states: {
      "order-1": { types: ["OrderPlaced#0 null", "OrderShipped#1 null"] },
      "order-2": { types: ["OrderPlaced#0 null"] },
      "order-3": { types: ["OrderPlaced#0 null"] },
      "order-4": { types: ['OrderPlaced#0 {"via":"ce"}'] }
    },
    skipped: 2
  },
  {
    name: "fromCategory with several categories reads their $ce- streams",
    query: `fromCategory("order", "user").when({ $init: function () { return [] }, $any: function (s, e) { s.push(e.streamId) } })`,
    events: [
      ...orders,
      { stream: "order-4", n: 0, type: "OrderPlaced", data: {}, via: { stream: "$ce-order", n: 7 } },
      { stream: "cart-1", n: 0, type: "CartOpened", data: {}, via: { stream: "$ce-cart", n: 0 } },
      { stream: "cart-2", n: 0, type: "CartOpened", data: {} }
    ],
    states: { "": ["order-1", "order-2", "user-1", "order-1", "order-3", "order-4"] },
    skipped: 2
  },
  {
    name: "log: messages a handler logs come back with the outcome",
    query: `fromAll().when({ $any: function (s, e) { log("seen " + e.streamId); log({ n: e.sequenceNumber }) } })`,
    events: [orders[0]!],
    logs: ["seen order-1", '{"n":0}']
  },
  {
    name: "fromStreams: only the named streams (array or arguments)",
    query: `fromStreams("order-2", "user-1").when({ $init: function () { return [] }, $any: function (s, e) { s.push(e.streamId) } })`,
    events: orders,
    states: { "": ["order-2", "user-1"] },
    skipped: 3
  },
  {
    name: "legacy dialect: fromStreamsMatching, a stream filter, one partition per matching stream",
    query: `fromStreamsMatching(function (streamId, e) { return streamId.indexOf("order-1") === 0 }).when({
      $init: function () { return { n: 0 } }, $any: function (s, e) { s.n++ } })`,
    options: { dialect: "legacy" },
    events: orders,
    states: { "order-1": { n: 2 } },
    skipped: 3
  },
  {
    name: "the event object: data/body, bodyRaw, eventType, streamId, sequenceNumber, metadata, isJson, partition",
    query: `fromAll().when({ $any: function (s, e) { return {
      same: e.data === e.body, bodyRaw: e.bodyRaw, eventType: e.eventType, streamId: e.streamId,
      sequenceNumber: e.sequenceNumber, metadata: e.metadata, isJson: e.isJson, partition: e.partition, body: e.body } } })`,
    events: [{ stream: "a-1", n: 3, type: "T", data: { x: 1 }, metadata: { $correlationId: "c", user: "u" } }],
    states: {
      "": {
        same: true,
        bodyRaw: '{"x":1}',
        eventType: "T",
        streamId: "a-1",
        sequenceNumber: 3,
        metadata: { $correlationId: "c", user: "u" },
        isJson: true,
        partition: "",
        body: { x: 1 }
      }
    }
  },
  {
    name: "a non-JSON event: no body, its raw text in bodyRaw",
    query: `fromAll().when({ $any: function (s, e) { return { body: typeof e.body, isJson: e.isJson, raw: e.bodyRaw } } })`,
    events: [{ stream: "a-1", n: 0, type: "T", raw: "plain text" }],
    states: { "": { body: "undefined", isJson: false, raw: "plain text" } }
  },
  {
    name: "legacy dialect: a non-JSON event's body is null and the default handler keeps it as $e",
    query: `fromAll()`,
    options: { dialect: "legacy" },
    events: [{ stream: "a-1", n: 0, type: "T", raw: "plain text" }],
    states: { "": { $e: "plain text" } }
  },
  {
    name: "one handler per event: the type's own wins over $any",
    query: `fromAll().when({ $init: function () { return { any: 0, placed: 0 } },
      OrderPlaced: function (s) { s.placed++ }, $any: function (s) { s.any++ } })`,
    events: orders,
    states: { "": { any: 2, placed: 3 } }
  },
  {
    name: "legacy dialect: $any and the type's handler both run",
    query: `fromAll().when({ $init: function () { return { any: 0, placed: 0 } },
      OrderPlaced: function (s) { s.placed++ }, $any: function (s) { s.any++ } })`,
    options: { dialect: "legacy" },
    events: orders,
    states: { "": { any: 5, placed: 3 } }
  },
  {
    name: "a type handler after $any makes the projection take only the named types",
    query: `fromAll().when({ $init: function () { return { any: 0, placed: 0 } },
      $any: function (s) { s.any++ }, OrderPlaced: function (s) { s.placed++ } })`,
    events: orders,
    states: { "": { any: 0, placed: 3 } },
    skipped: 2
  },
  {
    name: "an event with an empty JSON body reaches no handler",
    query: `fromAll().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })`,
    events: [{ stream: "a-1", n: 0, type: "T", data: {} }, { stream: "a-1", n: 1, type: "T", raw: "", isJsonRaw: true }],
    states: { "": { n: 1 } }
  },
  {
    name: "a JSON event whose body does not parse faults when a handler reads it",
    query: `fromAll().when({ $any: function (s, e) { return { v: e.body.v } } })`,
    events: [{ stream: "a-1", n: 0, type: "T", raw: "{not json", isJsonRaw: true }],
    // QuickJS's own parse error text.
    fault: "expecting property name"
  },
  {
    name: "partitionBy giving a number names the partition; null or an object skips the event",
    query: `fromAll().partitionBy(function (e) { return e.body.amount === undefined ? null : e.body.amount > 5 ? 1 : { no: 1 } })
      .when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })`,
    events: orders,
    states: { "1": { n: 1 } },
    skipped: 4
  },
  {
    name: "options: keys compared without case",
    query: `options({ $INCLUDELINKS: true }); fromAll().when({ $init: function () { return [] }, $any: function (s, e) { s.push(e.eventType) } })`,
    events: [{ stream: "$ce-order", n: 0, type: "$>", raw: "0@order-1" }],
    states: { "": ["$>"] }
  },
  {
    name: "the definition functions are gone once compiled",
    query: `fromAll().when({ $any: function (s, e) { fromAll() } })`,
    events: orders,
    fault: "'fromAll' is not defined"
  },
  {
    name: "emit needs a stream name",
    query: `fromAll().when({ $any: function (s, e) { emit(" ", "E", {}) } })`,
    options: { emitEnabled: true },
    events: orders,
    fault: "Value cannot be null. (Parameter 'streamId')"
  },
  {
    name: "emit needs an object body",
    query: `fromAll().when({ $any: function (s, e) { emit("out", "E", "text") } })`,
    options: { emitEnabled: true },
    events: orders,
    fault: "object expected (Parameter 'eventBody')"
  },
  {
    name: "filterBy / transformBy: the result is the transformed state, null when filtered out",
    query: `fromAll().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })
      .filterBy(function (s) { return s.n % 2 === 0 }).transformBy(function (s) { return { doubled: s.n * 2 } })`,
    events: orders.slice(0, 3),
    states: { "": { n: 3 } },
    results: { "": null }
  },
  {
    name: "transformBy then outputState: the result of every partition",
    query: `fromAll().foreachStream().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })
      .transformBy(function (s) { return { count: s.n } }).outputState()`,
    events: orders.slice(0, 4),
    results: { "order-1": { count: 2 }, "order-2": { count: 1 }, "user-1": { count: 1 } }
  },
  {
    name: "emit with emitEnabled",
    query: `fromCategory("order").when({ OrderPlaced: function (s, e) {
      emit("big-orders", "BigOrder", { id: e.streamId, amount: e.data.amount }, { source: "p" }) } })`,
    options: { emitEnabled: true },
    events: orders.slice(0, 2),
    emitted: [
      {
        kind: "emit",
        streamId: "big-orders",
        eventType: "BigOrder",
        data: '{"id":"order-1","amount":10}',
        isJson: true,
        metadata: { source: "p" }
      },
      {
        kind: "emit",
        streamId: "big-orders",
        eventType: "BigOrder",
        data: '{"id":"order-2","amount":5}',
        isJson: true,
        metadata: { source: "p" }
      }
    ],
    skipped: 0
  },
  {
    name: "linkTo and linkStreamTo with emitEnabled; copyTo writes nothing",
    query: `fromStream("order-1").when({ OrderPlaced: function (s, e) {
      linkTo("eu-orders", e, { why: "eu" });
      copyTo("copy", e, { extra: 1 });
      linkStreamTo("streams", e.streamId) } })`,
    options: { emitEnabled: true },
    events: [orders[0]!],
    emitted: [
      { kind: "linkTo", streamId: "eu-orders", eventType: "$>", data: "0@order-1", isJson: false, metadata: { why: "eu" } },
      { kind: "linkStreamTo", streamId: "streams", eventType: "$@", data: "order-1", isJson: false, metadata: null }
    ]
  },
  {
    name: "legacy dialect: linkTo, copyTo and linkStreamTo with emitEnabled",
    query: `fromStream("order-1").when({ OrderPlaced: function (s, e) {
      linkTo("eu-orders", e);
      copyTo("copy", e, { extra: 1, $skip: 2 });
      linkStreamTo("streams", e.streamId, { m: true }) } })`,
    options: { emitEnabled: true, dialect: "legacy" },
    events: [{ ...orders[0]!, metadata: { $correlationId: "corr", $causationId: "cause", user: "u" } }],
    emitted: [
      { kind: "linkTo", streamId: "eu-orders", eventType: "$>", data: "0@order-1", isJson: false, metadata: null },
      {
        kind: "copyTo",
        streamId: "copy",
        eventType: "OrderPlaced",
        data: '{"amount":10,"region":"eu"}',
        isJson: true,
        metadata: { $correlationId: "corr", user: "u", extra: 1 }
      },
      { kind: "linkStreamTo", streamId: "streams", eventType: "$@", data: "order-1", isJson: false, metadata: { m: true } }
    ]
  },
  {
    name: "emit without emitEnabled faults the projection",
    query: `fromAll().when({ $any: function (s, e) { emit("out", "E", {}) } })`,
    events: orders,
    fault: EMIT_NOT_ALLOWED
  },
  {
    name: "linkTo without emitEnabled faults the projection",
    query: `fromAll().when({ $any: function (s, e) { linkTo("out", e) } })`,
    events: orders,
    fault: EMIT_NOT_ALLOWED
  },
  {
    name: "fromAll skips $> link events by default",
    query: `fromAll().when({ $init: function () { return [] }, $any: function (s, e) { s.push(e.eventType) } })`,
    events: [orders[0]!, { stream: "$ce-order", n: 0, type: "$>", raw: "0@order-1" }],
    states: { "": ["OrderPlaced"] },
    skipped: 1
  },
  {
    name: "$includeLinks: link events reach the handlers, as written",
    query: `options({ $includeLinks: true });
      fromAll().when({ $init: function () { return [] }, $any: function (s, e) { s.push(e.eventType + " " + e.bodyRaw) } })`,
    events: [orders[0]!, { stream: "$ce-order", n: 0, type: "$>", raw: "0@order-1" }],
    states: { "": ['OrderPlaced {"amount":10,"region":"eu"}', "$> 0@order-1"] }
  },
  {
    name: "biState: [state, shared] with $initShared",
    query: `options({ biState: true });
      fromAll().foreachStream().when({ $init: function () { return { n: 0 } }, $initShared: function () { return { all: 0 } },
      $any: function (s, e) { s[0].n++; s[1].all++; return s } })`,
    events: orders,
    states: { "order-1": { n: 2 }, "user-1": { n: 1 } }
  },
  {
    name: "a handler that throws an Error faults with its message",
    query: `fromAll().when({ UserCreated: function () { throw new Error("users are not allowed here") } })`,
    events: orders,
    fault: "users are not allowed here"
  },
  {
    name: "a handler that throws a string faults with it",
    query: `fromAll().when({ $any: function () { throw "plain failure" } })`,
    events: orders,
    fault: "plain failure"
  },
  {
    name: "a handler that loops forever is stopped by the time limit",
    query: `fromAll().when({ $any: function () { for (;;) {} } })`,
    options: { timeLimitMs: 100 },
    events: orders,
    fault: /^Projection script took too long to execute \(took: 00:00:00\.\d{7}, allowed: 00:00:00\.1000000$/
  },
  {
    name: "catching the interruption does not help: the time limit still faults",
    query: `fromAll().when({ $any: function () { for (;;) { try { for (;;) {} } catch (x) {} } } })`,
    options: { timeLimitMs: 100 },
    events: orders,
    fault: /^Projection script took too long to execute \(took: 00:00:00\.\d{7}, allowed: 00:00:00\.1000000$/
  },
  {
    name: "a handler that allocates without end is stopped by the memory limit",
    query: `fromAll().when({ $any: function () { var a = []; for (;;) a.push({ n: a.length, list: [1, 2, 3] }) } })`,
    options: { memoryLimitBytes: 8 * 1024 * 1024, timeLimitMs: 10_000 },
    events: orders,
    fault: "The projection exceeded its memory limit of 8388608 bytes"
  },
  {
    name: "a state too big to keep is stopped by the memory limit",
    query: `fromAll().when({ $init: function () { return { s: "x" } }, $any: function (st) { st.s = st.s + st.s } })`,
    options: { memoryLimitBytes: 4 * 1024 * 1024, timeLimitMs: 10_000 },
    events: Array.from({ length: 40 }, (_, n) => ({ stream: "a-1", n, type: "T", data: {} })),
    fault: "The projection exceeded its memory limit of 4194304 bytes"
  },
  {
    name: "unbounded recursion is a fault, not a crash",
    query: `fromAll().when({ $any: function f() { return f() } })`,
    events: orders,
    fault: /stack overflow/i
  },
  {
    name: "$deleted: the notification handler runs for the partition",
    query: `fromAll().foreachStream().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ },
      $deleted: function (s, e, partition, soft) { s.deleted = partition + (soft ? " soft" : " hard") + " " + e } })`,
    events: orders.slice(0, 1),
    states: { "order-1": { n: 1, deleted: "order-1 hard null" } }
  }
]

const run = async (c: Case) => {
  const compiled = await compileProjection(c.query, { emitEnabled: false, ...c.options })
  if (compiled._tag !== "Compiled") assert.fail(`compile error: ${compiled.reason}`)
  const engine = compiled.engine
  const outcomes: Array<ProcessOutcome> = []
  try {
    for (const e of c.events) {
      const outcome = engine.process(input(e))
      outcomes.push(outcome)
      if (outcome._tag === "Faulted") break
    }
    if (c.name.startsWith("$deleted")) outcomes.push(engine.processDeleted("order-1", true))
    return { engine, outcomes }
  } catch (e) {
    engine.dispose()
    throw e
  }
}

const check = (c: Case, engine: ProjectionEngine, outcomes: ReadonlyArray<ProcessOutcome>) => {
  const last = outcomes[outcomes.length - 1]
  if (c.fault !== undefined) {
    assert.strictEqual(last?._tag, "Faulted", JSON.stringify(last))
    const reason = last?._tag === "Faulted" ? last.reason : ""
    if (typeof c.fault === "string") assert.strictEqual(reason, c.fault)
    else assert.match(reason, c.fault)
    assert.strictEqual(engine.faultReason, reason)
    // Faulted stays faulted.
    assert.deepStrictEqual(engine.process(input(orders[0]!)), { _tag: "Faulted", reason })
    return
  }
  for (const o of outcomes) assert.notStrictEqual(o._tag, "Faulted", JSON.stringify(o))
  if (c.states !== undefined) {
    for (const [partition, expected] of Object.entries(c.states)) {
      const state = engine.getState(partition)
      assert.isDefined(state, `no state for partition ${partition}`)
      assert.deepStrictEqual(JSON.parse(state!), expected, `state of ${partition}`)
    }
  }
  if (c.results !== undefined) {
    for (const [partition, expected] of Object.entries(c.results)) {
      const result = engine.getResult(partition)
      assert.isDefined(result, `no result for partition ${partition}`)
      assert.deepStrictEqual(result === null ? null : JSON.parse(result!), expected, `result of ${partition}`)
    }
  }
  if (c.emitted !== undefined) {
    const emitted = outcomes.flatMap((o) => (o._tag === "Processed" ? o.emitted : []))
      .map((e) => ({ ...e, metadata: e.metadata === null ? null : JSON.parse(e.metadata) }))
    assert.deepStrictEqual(emitted, c.emitted.map((e) => ({ metadata: null, ...e })))
  }
  if (c.logs !== undefined) {
    assert.deepStrictEqual(outcomes.flatMap((o) => (o._tag === "Processed" ? o.logs : [])), c.logs)
  }
  if (c.skipped !== undefined) {
    assert.strictEqual(outcomes.filter((o) => o._tag === "Skipped").length, c.skipped)
  }
}

describe("ProjectionEngine: query programs", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { engine, outcomes } = await run(c)
      try {
        check(c, engine, outcomes)
      } finally {
        engine.dispose()
      }
    })
  }
})

/** Runs a query's single `$any` handler once (twice for `twice`) and gives the parsed state. */
const stateAfter = async (query: string, twice = false): Promise<unknown> => {
  const compiled = await compileProjection(query, { emitEnabled: false })
  if (compiled._tag !== "Compiled") return assert.fail(`compile error: ${compiled.reason}`)
  const engine = compiled.engine
  try {
    let outcome = engine.process(input(orders[0]!))
    if (twice) outcome = engine.process(input(orders[1]!))
    if (outcome._tag !== "Processed") return assert.fail(JSON.stringify(outcome))
    return JSON.parse(outcome.state)
  } finally {
    engine.dispose()
  }
}

const handler = (body: string) => `fromAll().when({ $any: function (s, e) { ${body} } })`
const attempt = (expression: string) =>
  handler(`try { var v = (${expression}); return { type: typeof v, text: String(v) } } catch (x) { return { threw: String(x) } }`)

// Names of the sandbox's global object: ECMAScript built-ins, QuickJS's own, and the query API.
const ALLOWED_GLOBALS = new Set([
  "AggregateError", "Array", "ArrayBuffer", "BigInt", "BigInt64Array", "BigUint64Array", "Boolean", "DataView", "Date",
  "Error", "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array", "Float64Array", "Function", "Infinity",
  "Int16Array", "Int32Array", "Int8Array", "InternalError", "Iterator", "JSON", "Map", "Math", "NaN", "Number", "Object",
  "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", "Set", "SharedArrayBuffer", "String", "Symbol",
  "SyntaxError", "TypeError", "URIError", "Uint16Array", "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap",
  "WeakRef", "WeakSet", "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval",
  "globalThis", "isFinite", "isNaN", "parseFloat", "parseInt", "undefined", "unescape",
  "emit", "linkTo", "copyTo", "linkStreamTo", "log"
])

describe("ProjectionEngine: the sandbox", () => {
  it("this.constructor.constructor('return process')() reaches no process", async () => {
    assert.deepStrictEqual(await stateAfter(attempt(`this.constructor.constructor("return process")()`)), {
      threw: "ReferenceError: 'process' is not defined"
    })
    // The same from the event object and the state, which the host built.
    assert.deepStrictEqual(await stateAfter(attempt(`e.constructor.constructor("return typeof process")()`)), {
      type: "string",
      text: "undefined"
    })
    assert.deepStrictEqual(await stateAfter(attempt(`s.constructor.constructor("return globalThis.process")()`)), {
      type: "undefined",
      text: "undefined"
    })
  })

  it("Function('return this')() is the sandbox's own global, without process", async () => {
    assert.deepStrictEqual(await stateAfter(attempt(`Function("return this")().process`)), {
      type: "undefined",
      text: "undefined"
    })
    assert.deepStrictEqual(await stateAfter(attempt(`Function("return this")() === globalThis && typeof globalThis.emit`)), {
      type: "string",
      text: "function"
    })
    assert.deepStrictEqual(await stateAfter(attempt(`eval("typeof process + typeof Buffer")`)), {
      type: "string",
      text: "undefinedundefined"
    })
  })

  it("require, module, Buffer, timers, console and QuickJS's std/os are absent", async () => {
    const names = ["require", "module", "exports", "__dirname", "Buffer", "setTimeout", "setImmediate", "queueMicrotask",
      "console", "fetch", "std", "os", "scriptArgs", "print", "WebAssembly", "Atomics"]
    assert.deepStrictEqual(
      await stateAfter(attempt(`[${names.map((n) => `typeof ${n}`).join(", ")}].join(",")`)),
      { type: "string", text: names.map(() => "undefined").join(",") }
    )
    assert.deepStrictEqual(await stateAfter(attempt(`require("child_process")`)), {
      threw: "ReferenceError: 'require' is not defined"
    })
  })

  it("import() loads no module: node's, QuickJS's or a file", async () => {
    for (const specifier of ["node:fs", "child_process", "std", "os", "/etc/passwd", "./Prelude.ts"]) {
      const query = `var outcome = "pending";
        fromAll().when({ $any: function (s, e) {
          if (s.step === undefined) {
            import(${JSON.stringify(specifier)}).then(function (m) { outcome = "loaded " + Object.keys(m) },
              function (x) { outcome = "rejected " + x });
            return { step: 1 }
          }
          return { step: 2, outcome: outcome }
        } })`
      const state = await stateAfter(query, true) as { step: number; outcome: string }
      assert.strictEqual(state.step, 2)
      // The name as QuickJS normalized it (relative paths lose their "./").
      assert.match(state.outcome, /^rejected ReferenceError: could not load module '[^']+'$/, specifier)
    }
  })

  it("globalThis probing: only built-ins and the query API, and nothing written there reaches the host", async () => {
    const state = await stateAfter(handler(`
      globalThis.escapedToHost = 1;
      var names = Object.getOwnPropertyNames(globalThis).filter(function (n) { return n !== "escapedToHost" });
      var proto = Object.getPrototypeOf(globalThis) === Object.prototype;
      return { names: names, protoIsObject: proto }`)) as { names: Array<string>; protoIsObject: boolean }
    assert.isTrue(state.protoIsObject)
    assert.deepStrictEqual(state.names.filter((n) => !ALLOWED_GLOBALS.has(n)), [])
    assert.include(state.names, "emit")
    assert.isUndefined((globalThis as Record<string, unknown>).escapedToHost)
  })

  it("the query API cannot be replaced by user code", async () => {
    assert.deepStrictEqual(
      await stateAfter(attempt(`(function () { try { emit = null } catch (x) {} return typeof emit })()`)),
      { type: "string", text: "function" }
    )
  })
})

describe("ProjectionEngine: compiling", () => {
  const compileError = async (query: string, options: Partial<EngineOptions> = {}) => {
    const outcome = await compileProjection(query, { emitEnabled: false, ...options })
    if (outcome._tag === "Compiled") {
      outcome.engine.dispose()
      return assert.fail("compiled")
    }
    return outcome.reason
  }

  it("reports the definition: sources, event types, partitioning, options, outputTo", async () => {
    const outcome = await compileProjection(
      `options({ reorderEvents: true, processingLag: 500, resultStreamName: "totals" });
       fromStreams(["a-1", "b-1"]).partitionBy(function (e) { return e.streamId }).when({ A: function () {}, B: function () {} })
         .outputTo("out", "out-{0}")`,
      { emitEnabled: false }
    )
    if (outcome._tag !== "Compiled") return assert.fail(outcome.reason)
    try {
      assert.deepStrictEqual(outcome.engine.definition, {
        allStreams: false,
        streams: ["a-1", "b-1"],
        categories: [],
        catalogStream: null,
        allEvents: false,
        events: ["A", "B"],
        byStreams: false,
        byCustomPartitions: true,
        definesFold: true,
        definesStateTransform: true,
        producesResults: true,
        handlesDeletedNotifications: false,
        options: {
          resultStreamName: "out",
          partitionResultStreamNamePattern: "out-{0}",
          includeLinks: false,
          reorderEvents: true,
          processingLag: 500,
          biState: false
        },
        mayEmit: false
      })
    } finally {
      outcome.engine.dispose()
    }
  })

  it("flags a query that may emit", async () => {
    const outcome = await compileProjection(`fromAll().when({ $any: function (s, e) { linkTo("x", e) } })`, {
      emitEnabled: true
    })
    if (outcome._tag !== "Compiled") return assert.fail(outcome.reason)
    assert.isTrue(outcome.engine.definition.mayEmit)
    outcome.engine.dispose()
  })

  it("a syntax error, an unknown option, a throw, no source and an endless top level are compile errors", async () => {
    assert.match(await compileError(`fromAll().when({`), /./)
    assert.strictEqual(await compileError(`options({ nope: 1 }); fromAll()`), "Unrecognized option: nope")
    assert.strictEqual(await compileError(`throw new Error("bad query")`), "bad query")
    assert.strictEqual(await compileError(`fromStream(3)`), "stream")
    assert.strictEqual(await compileError(`fromAll().foreachStream().outputState()`), "not a function")
    assert.strictEqual(await compileError(`options({ biState: "yes" }); fromAll()`), "Invalid value")
    assert.strictEqual(await compileError(`fromStreamsMatching(function () { return true })`),
      "'fromStreamsMatching' is not defined")
    assert.strictEqual(await compileError(`var x = 1`), "None of streams and categories are included")
    assert.match(
      await compileError(`for (;;) {}`, { compileTimeLimitMs: 50 }),
      /^Projection script took too long to compile \(took: 00:00:00\.\d{7}, allowed: 00:00:00\.0500000$/
    )
  })
})

describe("ProjectionEngine: lifecycle and inputs", () => {
  it("dispose frees the sandbox at once; later calls answer a fault; dispose twice is harmless", async () => {
    const outcome = await compileProjection(`fromAll().when({ $any: function (s) { return s } })`, { emitEnabled: false })
    if (outcome._tag !== "Compiled") return assert.fail(outcome.reason)
    const engine = outcome.engine
    assert.strictEqual(engine.process(input(orders[0]!))._tag, "Processed")
    engine.dispose()
    engine.dispose()
    assert.deepStrictEqual(engine.process(input(orders[0]!)), {
      _tag: "Faulted",
      reason: "The projection engine was disposed"
    })
  })

  it("many engines compiled, run and disposed, faulted ones included", async () => {
    for (let i = 0; i < 30; i++) {
      const query = i % 3 === 0
        ? `fromAll().when({ $any: function f() { return f() } })`
        : `fromAll().when({ $init: function () { return { i: ${i} } }, $any: function (s) { s.i++ } })`
      const outcome = await compileProjection(query, { emitEnabled: false })
      if (outcome._tag !== "Compiled") return assert.fail(outcome.reason)
      const processed = outcome.engine.process(input(orders[0]!))
      if (i % 3 === 0) assert.strictEqual(processed._tag, "Faulted")
      else assert.deepStrictEqual(processed._tag === "Processed" ? JSON.parse(processed.state) : processed, { i: i + 1 })
      outcome.engine.dispose()
    }
  })

  it("a large stack limit: whichever stack (QuickJS's or Node's) runs out, this engine faults and others keep working", async () => {
    const deep = await compileProjection(`fromAll().when({ $any: function f() { return f() } })`, {
      emitEnabled: false,
      stackLimitBytes: 1024 * 1024
    })
    if (deep._tag !== "Compiled") return assert.fail(deep.reason)
    const outcome = deep.engine.process(input(orders[0]!))
    assert.strictEqual(outcome._tag, "Faulted")
    assert.match(outcome._tag === "Faulted" ? outcome.reason : "", /stack/)
    deep.engine.dispose()
    const next = await compileProjection(`fromAll().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })`, {
      emitEnabled: false
    })
    if (next._tag !== "Compiled") return assert.fail(next.reason)
    next.engine.process(input(orders[0]!))
    assert.strictEqual(next.engine.getState(), `{"n":1}`)
    next.engine.dispose()
  })

  it("setState restores a partition's state (a checkpoint load), which the next event continues", async () => {
    const outcome = await compileProjection(
      `fromAll().when({ $init: function () { return { n: 0 } }, $any: function (s) { s.n++ } })`,
      { emitEnabled: false }
    )
    if (outcome._tag !== "Compiled") return assert.fail(outcome.reason)
    outcome.engine.setState("", `{"n":41}`)
    outcome.engine.process(input(orders[0]!))
    assert.strictEqual(outcome.engine.getState(), `{"n":42}`)
    outcome.engine.dispose()
  })

  it("fromRecord maps a store record onto the engine's event", () => {
    const record = {
      position: 100,
      stream: "order-9",
      streamBytes: Buffer.from("order-9"),
      eventNumber: 4,
      isTombstone: false,
      eventId: "id",
      eventType: "OrderPlaced",
      isJson: true,
      data: Buffer.from(`{"a":1}`),
      customMetadata: Buffer.from(`{"m":2}`),
      createdMs: 0,
      created: "0",
      cache: undefined
    } satisfies EventRecord
    const event = fromRecord(record)
    assert.strictEqual(event.streamId, "order-9")
    assert.strictEqual(event.eventNumber, 4)
    assert.strictEqual(event.eventType, "OrderPlaced")
    assert.isTrue(event.isJson)
    assert.strictEqual(Buffer.from(event.data).toString(), `{"a":1}`)
    assert.strictEqual(Buffer.from(event.metadata).toString(), `{"m":2}`)
  })
})
