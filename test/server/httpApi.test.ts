/**
 * The node's HTTP API (src/server/http) over real HTTP/1.1 and HTTP/2 on loopback: a real node's
 * shapes for appends (`application/vnd.eventstore.events+json`, `ES-ExpectedVersion`, 201 with
 * `Location`, 400 with `ES-CurrentVersion`), pages both ways and `$all`,
 * long polls (at most 1024 waiting), metadata, projections and subscriptions listings; and what a hostile or careless
 * peer gets: bad input a 400 with nothing written, a body past the limit a 413 with the connection
 * closed unread, while other clients are still served; a long poll bounded.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"

let node: RunningNode
beforeAll(async () => {
  node = await startEmbeddedNode({ insecure: true })
})
afterAll(() => node?.stop())

const url = (path: string) => `http://127.0.0.1:${node.port}${path}`
const EVENTS = "application/vnd.eventstore.events+json"
const events = (...types: Array<string>) => JSON.stringify(types.map((eventType, i) => ({ eventId: randomUUID(), eventType, data: { i }, metadata: { m: i } })))
const post = (stream: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url(`/streams/${encodeURIComponent(stream)}`), { method: "POST", body, headers: { "content-type": EVENTS, ...headers } })
const getJson = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url(path), { headers })
  expect(res.status, path).toBe(200)
  return res.json() as Promise<any>
}

describe("HTTP API: streams", () => {
  it("appends under ES-ExpectedVersion and reads pages both ways, newest entry first", async () => {
    const stream = `http-${randomUUID().slice(0, 8)}`
    const created = await post(stream, events("A", "B", "C"), { "es-expectedversion": "-1" })
    expect(created.status).toBe(201)
    expect(created.headers.get("location")).toBe(url(`/streams/${stream}/0`))
    const wrong = await post(stream, events("D"), { "es-expectedversion": "1" })
    expect(wrong.status).toBe(400)
    expect(wrong.headers.get("es-currentversion")).toBe("2")
    expect((await post(stream, events("D"), { "es-expectedversion": "2" })).status).toBe(201)

    const head = await getJson(`/streams/${stream}/head/backward/2`)
    expect(head.entries.map((e: any) => e.eventType)).toEqual(["D", "C"])
    expect(head.entries[0].data).toEqual({ i: 0 })
    expect(head.entries[1].metaData).toEqual({ m: 2 })
    expect(head.headOfStream).toBe(true)
    const next = head.links.find((l: any) => l.relation === "next").uri
    const older = await getJson(new URL(next).pathname)
    expect(older.entries.map((e: any) => e.eventType)).toEqual(["B", "A"])
    expect(older.links.some((l: any) => l.relation === "next")).toBe(false)
    const forward = await getJson(`/streams/${stream}/1/forward/2`)
    expect(forward.entries.map((e: any) => e.eventNumber)).toEqual([2, 1])
    const one = await getJson(`/streams/${stream}/3`)
    expect(one.content).toMatchObject({ eventStreamId: stream, eventNumber: 3, eventType: "D", data: { i: 0 } })
    expect((await fetch(url(`/streams/${stream}/9`))).status).toBe(404)
    expect((await fetch(url(`/streams/none-${stream}`))).status).toBe(404)
  })

  it("reads $all by position both ways, and the stream's metadata", async () => {
    const stream = `http-all-${randomUUID().slice(0, 8)}`
    await post(stream, events("X", "Y"))
    await post(`$$${stream}`, JSON.stringify([{ eventId: randomUUID(), eventType: "$metadata", data: { $maxCount: 5 } }]))
    expect(await getJson(`/streams/${stream}/metadata`)).toEqual({ $maxCount: 5 })
    const head = await getJson("/streams/%24all/head/backward/3")
    expect(head.entries.map((e: any) => e.eventType)).toEqual(["$metadata", "Y", "X"])
    const position = head.entries[2].position as string
    expect(position).toMatch(/^[0-9a-f]{32}$/)
    const before = await getJson(`/streams/%24all/${position}/backward/1`)
    expect(before.entries[0].commitPosition).toBeLessThan(head.entries[2].commitPosition)
    const from = await getJson(`/streams/%24all/${position}/forward/2`)
    expect(from.entries.map((e: any) => e.eventType)).toEqual(["Y", "X"])
  })

  it("a long poll past the head answers when an event is written, or after its wait", async () => {
    const stream = `http-poll-${randomUUID().slice(0, 8)}`
    await post(stream, events("First"))
    const waiting = getJson(`/streams/${stream}/1/forward/20`, { "es-longpoll": "20" })
    await new Promise((r) => setTimeout(r, 200))
    await post(stream, events("Second"))
    const page = await waiting
    expect(page.entries.map((e: any) => e.eventType)).toEqual(["Second"])
    const started = Date.now()
    const empty = await getJson(`/streams/${stream}/2/forward/20`, { "es-longpoll": "1" })
    expect(empty.entries).toEqual([])
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  it("at most 1024 long polls wait at once: past that a poll answers at once; a write answers those waiting", async () => {
    const stream = `http-polls-${randomUUID().slice(0, 8)}`
    await post(stream, events("First"))
    const sessions = Array.from({ length: 11 }, () => http2.connect(`http://127.0.0.1:${node.port}`))
    try {
      const poll = (session: http2.ClientHttp2Session) =>
        new Promise<{ entries: number; at: number }>((resolve, reject) => {
          const req = session.request({ ":path": `/streams/${stream}/1/forward/5`, "es-longpoll": "30" })
          let text = ""
          req.setEncoding("utf8")
          req.on("data", (c) => (text += c))
          req.on("end", () => resolve({ entries: JSON.parse(text).entries.length, at: Date.now() }))
          req.on("error", reject)
          req.end()
        })
      const polls: Array<Promise<{ entries: number; at: number }>> = []
      // 1045 asked: whichever come past the first 1024 waiting are answered at once, empty
      const early: Array<number> = []
      let earlyAnswered: () => void = () => {}
      const allEarly = new Promise<void>((r) => (earlyAnswered = r))
      for (const session of sessions) {
        for (let i = 0; i < 95; i++) {
          polls.push(poll(session).then((p) => {
            early.push(p.entries)
            if (early.length === 21) earlyAnswered()
            return p
          }))
        }
      }
      const waited = await Promise.race([allEarly.then(() => "ok"), new Promise<"late">((r) => setTimeout(() => r("late"), 20_000))])
      expect(waited).toBe("ok")
      await new Promise((r) => setTimeout(r, 200))
      expect(early).toEqual(Array(21).fill(0))
      await post(stream, events("Second"))
      const answered = await Promise.all(polls)
      expect(answered.filter((p) => p.entries === 1).length).toBe(1024)
    } finally {
      for (const session of sessions) session.close()
    }
  })

  it("bad input is a 400 and writes nothing", async () => {
    const stream = `http-bad-${randomUUID().slice(0, 8)}`
    const cases: Array<[string, Record<string, string>]> = [
      ["not json", {}],
      ["[]", {}],
      [JSON.stringify([{ eventType: "NoId", data: {} }]), {}],
      [JSON.stringify([{ eventId: "nope", eventType: "X" }]), {}],
      [JSON.stringify([{ eventId: randomUUID() }]), {}],
      [events("A"), { "es-expectedversion": "soon" }],
      [events("A"), { "content-type": "text/html" }]
    ]
    for (const [body, headers] of cases) expect((await post(stream, body, headers)).status, body).toBe(400)
    expect((await fetch(url(`/streams/${stream}`))).status).toBe(404)
    expect((await fetch(url(`/streams/${stream}/x/forward/5`))).status).toBe(400)
    expect((await fetch(url(`/streams/${stream}/head/sideways/5`))).status).toBe(400)
    expect((await fetch(url(`/streams/${stream}/head/backward/100000`))).status).toBe(400)
    expect((await fetch(url("/streams/%24all"), { method: "POST" })).status).toBe(405)
  })

  it("a body past 16 MiB is answered 413 without being read, the connection closed; others are served", async () => {
    // declared too large: refused before the body is read
    const declared = await new Promise<{ status: number; closed: boolean }>((resolve) => {
      const socket = net.connect(node.port, "127.0.0.1", () => {
        socket.write(`POST /streams/huge HTTP/1.1\r\nHost: x\r\nContent-Type: ${EVENTS}\r\nContent-Length: ${17 * 1024 * 1024}\r\n\r\n`)
        socket.write(Buffer.alloc(64 * 1024))
      })
      let text = ""
      socket.on("data", (c) => (text += c.toString("latin1")))
      socket.on("close", () => resolve({ status: Number(text.split(" ")[1]), closed: true }))
      socket.on("error", () => {})
    })
    expect(declared).toEqual({ status: 413, closed: true })
    // chunked, no length: cut when the limit is passed
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(url("/streams/huge"), { method: "POST", headers: { "content-type": EVENTS } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
      const chunk = Buffer.alloc(1024 * 1024, 0x20)
      let sent = 0
      const pump = () => {
        while (sent < 20 && req.write(chunk)) sent++
        if (sent < 20 && !req.destroyed) req.once("drain", pump)
        else req.end()
      }
      pump()
    }).catch(() => 413)
    expect(chunked).toBe(413)
    expect((await fetch(url("/streams/huge"))).status).toBe(404)
    expect((await fetch(url("/ping"))).status).toBe(200)
  })

  it("an HTTP/2 request body still incomplete after 30 s is answered 408; the session serves others meanwhile", async () => {
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    try {
      const started = Date.now()
      const status = new Promise<number>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/streams/slow", "content-type": EVENTS })
        req.on("response", (headers) => resolve(Number(headers[":status"])))
        req.on("error", reject)
        req.write("[") // and nothing more
      })
      const ping = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ":path": "/ping" })
        req.on("response", (headers) => resolve(Number(headers[":status"])))
        req.on("error", reject)
        req.resume()
        req.end()
      })
      expect(ping).toBe(200)
      expect(await status).toBe(408)
      expect(Date.now() - started).toBeGreaterThanOrEqual(29_000)
      expect((await fetch(url("/streams/slow"))).status).toBe(404)
    } finally {
      session.destroy()
    }
  }, 90_000)

  it("serves HTTP/2 requests that are not gRPC (browsers negotiate h2 over TLS)", async () => {
    const stream = `http2-${randomUUID().slice(0, 8)}`
    await post(stream, events("Over2"))
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ":path": `/streams/${stream}`, accept: "application/json" })
        let text = ""
        req.setEncoding("utf8")
        req.on("data", (c) => (text += c))
        req.on("end", () => resolve(text))
        req.on("error", reject)
        req.end()
      })
      expect(JSON.parse(body).entries[0].eventType).toBe("Over2")
    } finally {
      session.close()
    }
  })
})

describe("HTTP API: web UI, projections, subscriptions", () => {
  it("redirects / to the UI and serves its files with a content security policy", async () => {
    const root = await fetch(url("/"), { redirect: "manual" })
    expect(root.status).toBe(302)
    expect(root.headers.get("location")).toBe("/web/index.html")
    const page = await fetch(url("/web/index.html"))
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'")
    expect(await page.text()).toContain("app.js")
    expect((await fetch(url("/web/app.js"))).headers.get("content-type")).toContain("javascript")
    expect((await fetch(url("/web/../package.json"))).status).toBe(404)
  })

  it("lists projections and subscriptions in a real node's shapes", async () => {
    expect(await getJson("/projections/any")).toEqual({ projections: [] })
    expect(await getJson("/subscriptions")).toEqual([])
    expect((await fetch(url("/projection/none/state"))).status).toBe(404)
    expect((await fetch(url("/subscriptions/s/g/info"))).status).toBe(404)
    expect((await fetch(url("/projection/none/command/enable"), { method: "POST" })).status).toBe(404)
  })
})
