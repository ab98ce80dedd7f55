/**
 * A real node's HTTP streams API (its AtomPub controller), in JSON: `GET /streams/{stream}` and its
 * pages (`/streams/{stream}/{from|head}/{forward|backward}/{count}`, newest entry first, with
 * `first`/`last`/`previous`/`next` links), one event (`/streams/{stream}/{n}`), the stream's
 * metadata (`/streams/{stream}/metadata`), `$all` (positions as 32 hex digits, commit then
 * prepare), long polls (`ES-LongPoll: seconds` on a page past the head waits for new events), and
 * `POST /streams/{stream}` with `application/vnd.eventstore.events+json` (or one event as
 * `application/json` with `ES-EventType` / `ES-EventId`) under `ES-ExpectedVersion`.
 * Every read and write goes through the stream's ACL (`Auth.authorize`) as the gRPC API's do; a
 * write is answered once durable.
 *
 * @since 0.1.0
 */
import type { Auth } from "../Auth.ts"
import { Access } from "../Auth.ts"
import { newUuid, parseUuidString } from "../codec/Uuid.ts"
import {
  type EventRecord,
  type Expected,
  isMetastream,
  metastreamOf,
  type ProposedEvent,
  type Store
} from "../storage/Store.ts"
import { authorize, baseUrl, type HttpExchange, json, methodNotAllowed, readBody, text } from "./HttpExchange.ts"

/**
 * What the streams API needs of the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamsApiContext {
  readonly store: Store
  readonly auth: Auth
  /** Largest request body accepted (bytes). */
  readonly maxBodyBytes: number
  /** Longest `ES-LongPoll` wait (seconds). */
  readonly maxLongPollSeconds: number
  /** Open long polls, ended when the node stops. */
  readonly longPolls: Set<() => void>
}

/**
 * Events per page at most (a real node's `count` limit is 4096; the UI asks for 20).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PAGE = 4096

/**
 * Long polls waiting at once, node-wide; past it a long poll is answered at once (an empty page).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_LONG_POLLS = 1024

const ATOM = "application/vnd.eventstore.atom+json"
const EVENTS_JSON = "application/vnd.eventstore.events+json"

/** A JSON body as a value when it parses, its text otherwise (`embed=body`). */
const bodyOf = (data: Buffer, isJson: boolean): unknown => {
  const text = data.toString("utf8")
  if (!isJson || text === "") return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const encodeStream = (stream: string) => encodeURIComponent(stream)

/** `$all` positions as a real node writes them in URLs: commit and prepare, 16 hex digits each. */
const allPosition = (position: number): string => {
  const hex = position.toString(16).padStart(16, "0")
  return hex + hex
}

const parseAllPosition = (text: string): number | undefined => {
  if (!/^[0-9a-fA-F]{32}$/.test(text)) return undefined
  const n = Number.parseInt(text.slice(0, 16), 16)
  return Number.isSafeInteger(n) ? n : undefined
}

/** One feed entry: the event (the link's target for a resolved link) at the link's (or its own) position. */
const entryOf = (base: string, event: EventRecord, at: EventRecord, extra: Record<string, unknown> = {}) => {
  const id = `${base}/streams/${encodeStream(event.stream)}/${event.eventNumber}`
  return {
    eventId: event.eventId,
    eventType: event.eventType,
    eventNumber: event.eventNumber,
    data: bodyOf(event.data, event.isJson),
    metaData: bodyOf(event.customMetadata, event.isJson),
    streamId: event.stream,
    isJson: event.isJson,
    isMetaData: isMetastream(event.stream),
    isLinkMetaData: false,
    positionEventNumber: at.eventNumber,
    positionStreamId: at.stream,
    title: `${event.eventNumber}@${event.stream}`,
    id,
    updated: new Date(event.createdMs).toISOString(),
    author: { name: "EventStore" },
    summary: event.eventType,
    links: [{ uri: id, relation: "edit" }, { uri: id, relation: "alternate" }],
    ...extra
  }
}

/** Which page: from a number (or position) or the head, a direction, a count. */
interface Page {
  readonly from: "head" | number
  readonly direction: "forward" | "backward"
  readonly count: number
}

const parsePage = (parts: ReadonlyArray<string>, all: boolean): Page | string => {
  if (parts.length === 0) return { from: "head", direction: "backward", count: 20 }
  if (parts.length !== 3) return "Bad page: use {from|head}/{forward|backward}/{count}"
  const [fromText, direction, countText] = parts as [string, string, string]
  if (direction !== "forward" && direction !== "backward") return `Bad direction ${direction}`
  if (!/^\d+$/.test(countText) || Number(countText) < 1 || Number(countText) > MAX_PAGE) return `Bad count ${countText} (1 to ${MAX_PAGE})`
  const count = Number(countText)
  if (fromText === "head") return { from: "head", direction, count }
  const from = all ? parseAllPosition(fromText) : /^\d+$/.test(fromText) ? Number(fromText) : undefined
  if (from === undefined || !Number.isSafeInteger(from)) return `Bad position ${fromText}`
  return { from, direction, count }
}

/**
 * The handler of `/streams/...`: answers and returns true for paths it serves.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeStreamsApi = (ctx: StreamsApiContext) => {
  const { auth, store } = ctx

  /** Events of a stream in a page, oldest first, with the page's bounds (or why there are none). */
  const readStream = (stream: string, page: Page, resolveLinks: boolean) => {
    const view = store.view(stream)
    if (view._tag === "Deleted") return { _tag: "Deleted" as const }
    if (view._tag === "NoStream") return { _tag: "NoStream" as const }
    const { event, first, last, minCreatedMs } = view
    let lo: number
    let hi: number
    if (page.direction === "forward") {
      lo = Math.max(page.from === "head" ? last + 1 : page.from, first)
      hi = Math.min(lo + page.count - 1, last)
    } else {
      hi = Math.min(page.from === "head" ? last : page.from, last)
      lo = Math.max(hi - page.count + 1, first)
    }
    const events: Array<{ event: EventRecord; at: EventRecord }> = []
    for (let n = lo; n <= hi; n++) {
      if (n < 0 || n > last) continue
      const record = event(n)
      // undefined: dropped by a scavenge since the view was taken
      if (record === undefined || record.createdMs < minCreatedMs) continue
      if (resolveLinks && record.eventType === "$>") {
        const target = store.resolveLink(record)
        if (target === undefined) continue
        events.push({ event: target, at: record })
      } else events.push({ event: record, at: record })
    }
    return { _tag: "Ok" as const, events, lo, hi, first, last }
  }

  const streamFeed = (ex: HttpExchange, stream: string, page: Page) => {
    const base = baseUrl(ex.req)
    const resolveLinks = ex.req.headers["es-resolvelinkto"] !== "false"
    const read = readStream(stream, page, resolveLinks)
    if (read._tag === "Deleted") return text(ex.res, 410, "Deleted")
    if (read._tag === "NoStream") return text(ex.res, 404, "Not Found")
    const self = `${base}/streams/${encodeStream(stream)}`
    const link = (from: number | "head", direction: string) => `${self}/${from}/${direction}/${page.count}`
    const links = [
      { uri: self, relation: "self" },
      { uri: link("head", "backward"), relation: "first" },
      { uri: link(0, "forward"), relation: "last" },
      ...(read.lo > read.first ? [{ uri: link(read.lo - 1, "backward"), relation: "next" }] : []),
      { uri: link(read.hi + 1, "forward"), relation: "previous" },
      { uri: `${self}/metadata`, relation: "metadata" }
    ]
    return json(ex.res, 200, {
      title: `Event stream '${stream}'`,
      id: self,
      updated: new Date(read.events[read.events.length - 1]?.at.createdMs ?? Date.now()).toISOString(),
      streamId: stream,
      author: { name: "EventStore" },
      headOfStream: read.hi >= read.last,
      selfUrl: self,
      eTag: `${read.last};-1`,
      links,
      entries: read.events.map(({ at, event }) => entryOf(base, event, at)).reverse()
    }, {}, ATOM)
  }

  /** `$all`, oldest first: from a position forward (records at or after it), or backward (before it). */
  const allFeed = (ex: HttpExchange, page: Page) => {
    const base = baseUrl(ex.req)
    const log = store.log
    const picked: Array<EventRecord> = []
    // the log's one cursor (records hidden from `$all` are skipped there)
    if (page.direction === "forward") {
      const cursor = log.cursor(page.from === "head" ? log.length : log.indexAtOrAfter(page.from))
      while (picked.length < page.count) {
        const record = cursor.next()
        if (record === undefined) break
        picked.push(record)
      }
    } else {
      const cursor = log.cursor(page.from === "head" ? log.length - 1 : log.indexAtOrAfter(page.from) - 1, "backwards")
      while (picked.length < page.count) {
        const record = cursor.next()
        if (record === undefined) break
        picked.unshift(record)
      }
    }
    const self = `${base}/streams/%24all`
    const link = (from: string, direction: string) => `${self}/${from}/${direction}/${page.count}`
    const oldest = picked[0]
    const newest = picked[picked.length - 1]
    const after = newest === undefined
      ? (page.from === "head" || page.direction === "backward" ? store.headPosition : page.from)
      : newest.position + 1
    const links = [
      { uri: self, relation: "self" },
      { uri: link("head", "backward"), relation: "first" },
      { uri: link(allPosition(0), "forward"), relation: "last" },
      ...(oldest === undefined || oldest.position === 0 ? [] : [{ uri: link(allPosition(oldest.position), "backward"), relation: "next" }]),
      { uri: link(allPosition(after), "forward"), relation: "previous" },
      { uri: `${self}/metadata`, relation: "metadata" }
    ]
    return json(ex.res, 200, {
      title: "All events",
      id: self,
      updated: new Date(newest?.createdMs ?? Date.now()).toISOString(),
      author: { name: "EventStore" },
      headOfStream: newest === undefined ? page.direction === "backward" || after >= store.headPosition : newest.position >= store.lastPosition,
      selfUrl: self,
      links,
      entries: picked.map((r) =>
        entryOf(base, r, r, { commitPosition: r.position, preparePosition: r.position, position: allPosition(r.position) })
      ).reverse()
    }, {}, ATOM)
  }

  /** Whether a page would be empty because it starts past the head (what a long poll waits on). */
  const pastHead = (stream: string, page: Page): boolean => {
    if (page.direction !== "forward" || page.from === "head") return false
    if (stream === "$all") return page.from >= store.headPosition
    return page.from > store.lastEventNumber(stream)
  }

  const read = (ex: HttpExchange, stream: string, rest: ReadonlyArray<string>) => {
    if (authorize(auth, ex, Access.stream(stream, "read")) === undefined) return
    const page = parsePage(rest, stream === "$all")
    if (typeof page === "string") return text(ex.res, 400, page)
    const answer = () => (stream === "$all" ? allFeed(ex, page) : streamFeed(ex, stream, page))
    const longPoll = Number(ex.req.headers["es-longpoll"] ?? "0")
    // at most MAX_LONG_POLLS wait at once (each holds a store listener); past it a poll answers at once
    if (!(longPoll > 0) || !pastHead(stream, page) || ctx.longPolls.size >= MAX_LONG_POLLS) return answer()
    // wait for a write to the stream (or any write, for $all), at most the asked seconds
    const seconds = Math.min(longPoll, ctx.maxLongPollSeconds)
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      unlisten()
      ctx.longPolls.delete(finish)
      if (!ex.res.destroyed) answer()
    }
    const unlisten = stream === "$all" ? store.onAppendAll(finish) : store.onAppendStream(stream, finish)
    const timer = setTimeout(finish, seconds * 1000)
    ctx.longPolls.add(finish)
    ex.res.once("close", finish)
  }

  const readEvent = (ex: HttpExchange, stream: string, n: number) => {
    if (authorize(auth, ex, Access.stream(stream, "read")) === undefined) return
    const read = readStream(stream, { from: n, direction: "forward", count: 1 }, ex.req.headers["es-resolvelinkto"] !== "false")
    if (read._tag === "Deleted") return text(ex.res, 410, "Deleted")
    const found = read._tag === "Ok" ? read.events.find(({ at }) => at.eventNumber === n) : undefined
    if (found === undefined) return text(ex.res, 404, "Not Found")
    const base = baseUrl(ex.req)
    const entry = entryOf(base, found.event, found.at)
    return json(ex.res, 200, {
      title: entry.title,
      id: entry.id,
      updated: entry.updated,
      author: entry.author,
      summary: entry.summary,
      content: {
        eventStreamId: found.event.stream,
        eventNumber: found.event.eventNumber,
        eventType: found.event.eventType,
        eventId: found.event.eventId,
        data: entry.data,
        metadata: entry.metaData
      },
      links: entry.links
    }, {}, ATOM)
  }

  const readMetadata = (ex: HttpExchange, stream: string) => {
    if (authorize(auth, ex, Access.stream(stream, "metaRead")) === undefined) return
    const last = store.lastEvent(metastreamOf(stream))
    return json(ex.res, 200, last === undefined ? {} : bodyOf(last.data, true))
  }

  const expectedOf = (header: string | Array<string> | undefined): Expected | undefined => {
    const value = Array.isArray(header) ? header[0] : header
    if (value === undefined || value === "" || value === "-2") return { _tag: "Any" }
    if (value === "-1") return { _tag: "NoStream" }
    if (value === "-4") return { _tag: "StreamExists" }
    if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return { _tag: "Revision", revision: BigInt(value) }
    return undefined
  }

  /** The events of a POST body, or why it is refused. */
  const eventsOf = (ex: HttpExchange, body: Buffer): Array<ProposedEvent> | string => {
    const contentType = (ex.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
    const encode = (v: unknown): { bytes: Buffer; json: boolean } =>
      v === undefined || v === null
        ? { bytes: Buffer.alloc(0), json: true }
        : typeof v === "string"
        ? { bytes: Buffer.from(v, "utf8"), json: false }
        : { bytes: Buffer.from(JSON.stringify(v), "utf8"), json: true }
    let parsed: unknown
    if (contentType === EVENTS_JSON || contentType === "application/json") {
      try {
        parsed = JSON.parse(body.toString("utf8"))
      } catch {
        return "Invalid JSON body"
      }
    } else if (contentType !== "application/octet-stream") {
      return `Unsupported Content-Type ${contentType}: use ${EVENTS_JSON}, application/json or application/octet-stream`
    }
    if (contentType === EVENTS_JSON) {
      if (!Array.isArray(parsed) || parsed.length === 0) return "Expected a non-empty array of events"
      const events: Array<ProposedEvent> = []
      for (const e of parsed as Array<Record<string, unknown>>) {
        if (typeof e !== "object" || e === null) return "Each event must be an object"
        const eventId = typeof e.eventId === "string" ? parseUuidString(e.eventId) : undefined
        if (eventId === undefined) return "Each event needs an eventId (a UUID)"
        if (typeof e.eventType !== "string" || e.eventType === "") return "Each event needs an eventType"
        const data = encode(e.data)
        events.push({ eventId, eventType: e.eventType, isJson: data.json, data: data.bytes, customMetadata: encode(e.metadata).bytes })
      }
      return events
    }
    // one event: its type and id in headers
    const eventType = ex.req.headers["es-eventtype"]
    if (typeof eventType !== "string" || eventType === "") return "Missing ES-EventType header"
    const idHeader = ex.req.headers["es-eventid"]
    const eventId = typeof idHeader === "string" ? parseUuidString(idHeader) : newUuid()
    if (eventId === undefined) return "Bad ES-EventId header"
    const isJson = contentType === "application/json"
    return [{
      eventId,
      eventType,
      isJson,
      data: isJson ? Buffer.from(JSON.stringify(parsed), "utf8") : body,
      customMetadata: Buffer.alloc(0)
    }]
  }

  const write = async (ex: HttpExchange, stream: string) => {
    if (stream === "$all") return methodNotAllowed(ex.res, "GET")
    if (authorize(auth, ex, Access.stream(stream, "write")) === undefined) return
    const expected = expectedOf(ex.req.headers["es-expectedversion"])
    if (expected === undefined) return text(ex.res, 400, "Bad ES-ExpectedVersion header")
    const body = await readBody(ex, ctx.maxBodyBytes)
    if (body === undefined) return
    const events = eventsOf(ex, body)
    if (typeof events === "string") return text(ex.res, 400, events)
    let outcome
    try {
      outcome = store.append(stream, expected, events)
    } catch {
      return text(ex.res, 503, "The node cannot write")
    }
    switch (outcome._tag) {
      case "WrongExpectedVersion":
        return text(ex.res, 400, "Wrong expected EventNumber", { "es-currentversion": String(outcome.currentRevision) })
      case "StreamDeleted":
        return text(ex.res, 410, "Stream deleted")
      case "Success": {
        const firstNumber = outcome.currentRevision - events.length + 1
        const location = `${baseUrl(ex.req)}/streams/${encodeStream(stream)}/${Math.max(0, firstNumber)}`
        store.whenDurable((error) =>
          error === undefined
            ? text(ex.res, 201, "Created", { location, "es-currentversion": String(outcome.currentRevision) })
            : text(ex.res, 503, "The write was not made durable")
        )
      }
    }
  }

  return (ex: HttpExchange): boolean => {
    const [root, stream, ...rest] = ex.segments
    if (root !== "streams" || stream === undefined || stream === "") return false
    const method = ex.req.method ?? "GET"
    if (rest.length === 0 && method === "POST") {
      void write(ex, stream)
      return true
    }
    if (method !== "GET" && method !== "HEAD") {
      methodNotAllowed(ex.res, rest.length === 0 ? "GET, POST" : "GET")
      return true
    }
    ex.req.resume()
    if (rest.length === 1 && rest[0] === "metadata") readMetadata(ex, stream)
    else if (rest.length === 1 && /^\d+$/.test(rest[0]!) && stream !== "$all") readEvent(ex, stream, Number(rest[0]))
    else read(ex, stream, rest)
    return true
  }
}
