// The web UI of the effect-esdb embedded node: one module, no framework. It reads the node through
// its HTTP API (the same endpoints curl and a real node's tools use) with the credentials the user
// gives, so it shows and does only what that user may. Every value from the node goes into the
// page as text (textContent), never as HTML.

const main = /** @type {HTMLElement} */ (document.getElementById("main"))
/** Shows a page: its parts, those that are `false` or missing left out. @param {...(Node | string | false | undefined | null)} parts */
const render = (...parts) => main.replaceChildren(.../** @type {(Node | string)[]} */ (parts.filter((p) => p !== false && p !== undefined && p !== null)))
const PAGE = 20

// ------------------------------------------------------------------------------------------------
// credentials and requests

const credentials = () => sessionStorage.getItem("esdb-auth")

class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/**
 * Calls the node's HTTP API; a 401 asks for credentials and retries.
 * @param {string} path @param {RequestInit & { longPoll?: number }} [init]
 * @returns {Promise<Response>}
 */
const call = async (path, init = {}) => {
  const headers = new Headers(init.headers)
  headers.set("X-Requested-With", "XMLHttpRequest")
  if (!headers.has("Accept")) headers.set("Accept", "application/json")
  if (init.longPoll) headers.set("ES-LongPoll", String(init.longPoll))
  const auth = credentials()
  if (auth) headers.set("Authorization", "Basic " + auth)
  const res = await fetch(path, { ...init, headers })
  if (res.status === 401) {
    await login(auth ? "Those credentials were refused." : "This node needs credentials.")
    return call(path, init)
  }
  if (!res.ok) throw new HttpError(res.status, `${res.status} ${res.statusText}: ${await res.text()}`)
  return res
}

/** @param {string} path @param {RequestInit & { longPoll?: number }} [init] */
const getJson = async (path, init) => {
  const res = await call(path, init)
  const text = await res.text()
  return text === "" ? undefined : JSON.parse(text)
}

/** @param {string} reason @returns {Promise<void>} */
const login = (reason) =>
  new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("login"))
    const form = /** @type {HTMLFormElement} */ (document.getElementById("login-form"))
    text(document.getElementById("login-reason"), reason)
    form.onsubmit = (e) => {
      e.preventDefault()
      const data = new FormData(form)
      const value = `${data.get("user")}:${data.get("password")}`
      sessionStorage.setItem("esdb-auth", btoa(String.fromCharCode(...new TextEncoder().encode(value))))
      dialog.close()
      showUser()
      resolve()
    }
    if (!dialog.open) dialog.showModal()
  })

const showUser = () => {
  const slot = /** @type {HTMLElement} */ (document.getElementById("user"))
  const auth = credentials()
  const name = auth ? new TextDecoder().decode(Uint8Array.from(atob(auth), (c) => c.charCodeAt(0))).split(":")[0] : undefined
  slot.replaceChildren(
    name ? `Signed in as ${name}` : "Not signed in",
    h("button", { type: "button", id: name ? "logout" : "login-button", onclick: () => {
      if (name) sessionStorage.removeItem("esdb-auth")
      showUser()
      if (!name) login("").then(route)
      else route()
    } }, name ? "Log out" : "Log in")
  )
}

// ------------------------------------------------------------------------------------------------
// DOM helpers

/**
 * An element with attributes (`on…` are listeners) and children (strings become text).
 * @param {string} tag @param {Record<string, any>} [attrs] @param {...(Node | string | number | undefined | null | false)} children
 */
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, String(v))
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) el.append(typeof c === "number" ? String(c) : c)
  return el
}

/** @param {Element | null} el @param {string} value */
const text = (el, value) => {
  if (el) el.textContent = value
}

/** A value as readable text: JSON pretty-printed, strings as they are. @param {unknown} value */
const pretty = (value) => {
  if (value === undefined || value === "") return ""
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2)
    } catch {
      return value
    }
  }
  return JSON.stringify(value, null, 2)
}

/** @param {string} stream */
const streamHref = (stream) => `#/streams/${encodeURIComponent(stream)}`

/** @param {unknown} e */
const errorBox = (e) => h("p", { class: "error", "data-testid": "error" }, e instanceof Error ? e.message : String(e))

/** A table from headings and rows. @param {string[]} heads @param {Node[][]} rows @param {Record<string, any>} [attrs] */
const table = (heads, rows, attrs = {}) =>
  h("table", attrs, h("thead", {}, h("tr", {}, ...heads.map((x) => h("th", {}, x)))), h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r))))

/** @param {string | number | Node} v @param {boolean} [num] */
const td = (v, num = false) => h("td", num ? { class: "num" } : {}, typeof v === "number" ? String(v) : v)

// ------------------------------------------------------------------------------------------------
// routing: #/, #/streams/{name}?page=…, #/subscriptions, #/projections/{name}

/** Aborted when the page changes: ends live follows and refresh loops. */
let current = new AbortController()

const route = async () => {
  current.abort()
  current = new AbortController()
  const signal = current.signal
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?")
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent)
  const params = new URLSearchParams(query)
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.getAttribute("data-nav") === (parts[0] ?? "dashboard"))
  try {
    switch (parts[0]) {
      case undefined:
        return await dashboard(signal)
      case "streams":
        return parts[1] === undefined ? await streamIndex() : await streamPage(parts[1], params.get("page"), signal)
      case "subscriptions":
        return await subscriptions(signal)
      case "projections":
        return parts[1] === undefined ? await projectionList(signal) : await projectionPage(parts[1], signal)
      default:
        render(h("p", {}, "Not found"))
    }
  } catch (e) {
    if (!signal.aborted) render(errorBox(e))
  }
}

/** Runs `render` now and every `ms` until the page changes. @param {AbortSignal} signal @param {number} ms @param {() => Promise<void>} render */
const every = async (signal, ms, render) => {
  await render()
  const timer = setInterval(() => render().catch((e) => console.error(e)), ms)
  signal.addEventListener("abort", () => clearInterval(timer))
}

// ------------------------------------------------------------------------------------------------
// dashboard

/** @param {number} seconds */
const duration = (seconds) => {
  const d = Math.floor(seconds / 86400), hh = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60)
  return `${d ? d + "d " : ""}${hh}h ${m}m ${s}s`
}

/** Nested stats as `a.b.c` rows. @param {any} value @param {string} prefix @param {Node[][]} rows */
const flatten = (value, prefix, rows) => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, rows)
  } else rows.push([td(prefix), td(typeof value === "number" ? value : JSON.stringify(value), typeof value === "number")])
  return rows
}

/** @param {AbortSignal} signal */
const dashboard = (signal) =>
  every(signal, 2000, async () => {
    const [info, stats, gossip] = await Promise.all([getJson("/info"), getJson("/stats"), getJson("/gossip")])
    if (signal.aborted) return
    const uptime = (Date.now() - Date.parse(stats.proc.startTime)) / 1000
    const members = gossip?.members ?? []
    render(
      h("h1", {}, "Dashboard"),
      h("div", { class: "cards" },
        h("div", { class: "card" }, "Version", h("b", { id: "version" }, info.dbVersion ?? info.esVersion)),
        h("div", { class: "card" }, "State", h("b", {}, info.state)),
        h("div", { class: "card" }, "Uptime", h("b", { id: "uptime" }, duration(uptime))),
        h("div", { class: "card" }, "Records", h("b", {}, stats.es?.checksum ?? "")),
        h("div", { class: "card" }, "Authentication", h("b", {}, info.authentication ? info.authentication.type : "none (insecure)"))),
      members.length > 0 && h("h2", {}, "Cluster members"),
      members.length > 0 && table(["instance", "state", "alive", "endpoint", "time"], members.map((/** @type {any} */ m) => [
        td(m.instanceId), td(m.state), td(String(m.isAlive)), td(`${m.httpEndPointIp}:${m.httpEndPointPort}`), td(m.timeStamp)
      ]), { id: "members" }),
      h("h2", {}, "Statistics"),
      table(["key", "value"], flatten(stats, "", []), { id: "stats" })
    )
  })

// ------------------------------------------------------------------------------------------------
// streams

const streamIndex = async () => {
  const input = h("input", { id: "stream-name", placeholder: "stream name", size: 30 })
  const open = () => {
    const name = /** @type {HTMLInputElement} */ (input).value.trim()
    if (name) location.hash = streamHref(name)
  }
  input.addEventListener("keydown", (e) => { if (/** @type {KeyboardEvent} */ (e).key === "Enter") open() })
  render(
    h("h1", {}, "Stream browser"),
    h("div", { class: "bar" }, input, h("button", { id: "open-stream", onclick: open }, "Open"), h("a", { href: streamHref("$all") }, "$all")),
    h("p", { class: "muted" }, "Recently written streams (from $all):"),
    h("div", { id: "recent" }, "…")
  )
  try {
    const feed = await getJson("/streams/%24all/head/backward/50")
    const names = [...new Set(feed.entries.map((/** @type {any} */ e) => e.positionStreamId))]
    document.getElementById("recent")?.replaceChildren(h("ul", {}, ...names.map((n) => h("li", {}, h("a", { href: streamHref(String(n)) }, String(n))))))
  } catch (e) {
    document.getElementById("recent")?.replaceChildren(errorBox(e))
  }
}

/** The page part of a feed link (`{from}/{direction}/{count}`). @param {any} feed @param {string} relation */
const pageOf = (feed, relation) => {
  const link = feed.links.find((/** @type {any} */ l) => l.relation === relation)
  if (!link) return undefined
  const m = new URL(link.uri).pathname.match(/\/([^/]+\/(?:forward|backward)\/\d+)$/)
  return m ? m[1] : undefined
}

/** One entry's rows: its summary and its data/metadata. @param {any} e @param {boolean} all */
const entryRows = (e, all) => {
  const isLink = e.streamId !== e.positionStreamId
  const target = h("a", { href: `${streamHref(e.streamId)}?page=${e.eventNumber}/backward/1`, class: "link-event", "data-testid": "link-target" }, `${e.eventNumber}@${e.streamId}`)
  const summary = h("tr", { "data-testid": "event", "data-type": e.eventType },
    td(all ? String(e.commitPosition) : String(e.positionEventNumber), true),
    td(isLink ? h("span", {}, "link → ", target) : e.eventType),
    td(h("a", { href: streamHref(e.positionStreamId) }, e.positionStreamId)),
    td(isLink ? e.eventType : String(e.eventNumber)),
    td(new Date(e.updated).toLocaleString()),
    td(e.eventId))
  const body = h("tr", { class: "body" },
    h("td", {}),
    h("td", { colspan: 5 },
      h("pre", { "data-testid": "data" }, pretty(e.data) || "(no data)"),
      pretty(e.metaData) && h("details", {}, h("summary", {}, "metadata"), h("pre", {}, pretty(e.metaData)))))
  return [summary, body]
}

/** @param {string} stream @param {string | null} page @param {AbortSignal} signal */
const streamPage = async (stream, page, signal) => {
  const all = stream === "$all"
  const base = `/streams/${encodeURIComponent(stream)}`
  const feed = await getJson(`${base}/${page ?? `head/backward/${PAGE}`}`)
  const tbody = h("tbody", { id: "events" }, ...feed.entries.flatMap((/** @type {any} */ e) => entryRows(e, all)))
  const nav = (/** @type {string} */ label, /** @type {string} */ relation, /** @type {string} */ id) => {
    const p = pageOf(feed, relation)
    return p ? h("a", { href: `${streamHref(stream)}?page=${p}`, id }, label) : h("span", { class: "muted" }, label)
  }
  const follow = h("input", { type: "checkbox", id: "follow" })
  const status = h("span", { class: "muted", id: "follow-status" })
  let metadata = h("span", {})
  if (!all) {
    try {
      metadata = h("pre", { id: "metadata" }, pretty(await getJson(`${base}/metadata`)))
    } catch (e) {
      metadata = errorBox(e)
    }
  }
  render(
    h("h1", {}, all ? "All events ($all)" : `Stream ${stream}`),
    h("div", { class: "bar" },
      nav("⇤ newest", "first", "page-first"), nav("← newer", "previous", "page-newer"), nav("older →", "next", "page-older"), nav("oldest ⇥", "last", "page-last"),
      h("label", {}, follow, " follow live"), status),
    h("table", {},
      h("thead", {}, h("tr", {}, ...[all ? "position" : "#", "type", "stream", all ? "event #" : "event #", "time", "event id"].map((x) => h("th", {}, x)))),
      tbody),
    feed.entries.length === 0 && h("p", { class: "muted" }, "No events on this page."),
    !all && h("h2", {}, "Stream metadata"),
    metadata)
  follow.addEventListener("change", () => {
    if (/** @type {HTMLInputElement} */ (follow).checked) followLive(stream, feed, tbody, status, follow, signal)
  })
}

/**
 * Long-polls the page after the newest entry shown and puts new events on top, while the box is
 * checked and the page shown.
 * @param {string} stream @param {any} feed @param {HTMLElement} tbody @param {HTMLElement} status @param {HTMLElement} box @param {AbortSignal} signal
 */
const followLive = async (stream, feed, tbody, status, box, signal) => {
  let next = pageOf(feed, "previous")
  const checked = () => /** @type {HTMLInputElement} */ (box).checked && !signal.aborted
  text(status, "following…")
  while (next && checked()) {
    try {
      const page = await getJson(`/streams/${encodeURIComponent(stream)}/${next}`, { longPoll: 10, signal })
      if (!checked()) break
      if (page.entries.length > 0) tbody.prepend(...page.entries.flatMap((/** @type {any} */ e) => entryRows(e, stream === "$all")))
      next = pageOf(page, "previous") ?? next
      text(status, `following… (${new Date().toLocaleTimeString()})`)
    } catch (e) {
      if (signal.aborted) return
      text(status, e instanceof Error ? e.message : String(e))
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  text(status, "")
}

// ------------------------------------------------------------------------------------------------
// persistent subscriptions

/** @param {AbortSignal} signal */
const subscriptions = (signal) => {
  const message = h("p", { id: "subscriptions-message" })
  const body = h("div", {}, "…")
  render(h("h1", {}, "Persistent subscriptions"), message, body)
  return every(signal, 2000, async () => {
    const groups = await getJson("/subscriptions")
    if (signal.aborted) return
    const parkedStream = (/** @type {any} */ g) => `$persistentsubscription-${g.eventStreamId}::${g.groupName}-parked`
    body.replaceChildren(groups.length === 0 ? h("p", { class: "muted" }, "No persistent subscriptions.") : table(
      ["stream", "group", "status", "connections", "items/s", "processed", "last checkpoint", "last known", "in flight", "retrying", "parked", ""],
      groups.map((/** @type {any} */ g) => [
        td(h("a", { href: streamHref(g.eventStreamId) }, g.eventStreamId)), td(g.groupName), td(g.status), td(g.connectionCount, true),
        td(Number(g.averageItemsPerSecond).toFixed(1), true), td(g.totalItemsProcessed, true), td(g.lastCheckpointedEventPosition),
        td(g.lastKnownEventNumber, true), td(g.totalInFlightMessages, true), td(g.retryBufferCount, true),
        td(h("a", { href: streamHref(parkedStream(g)), "data-testid": "parked-count" }, String(g.parkedMessageCount)), true),
        td(h("button", { "data-testid": "replay", "data-group": g.groupName, onclick: async () => {
          try {
            await call(`/subscriptions/${encodeURIComponent(g.eventStreamId)}/${encodeURIComponent(g.groupName)}/replayParked`, { method: "POST" })
            message.className = "ok"
            text(message, `Replaying the parked messages of ${g.eventStreamId}/${g.groupName}.`)
          } catch (e) {
            message.className = "error"
            text(message, e instanceof Error ? e.message : String(e))
          }
        } }, "Replay parked"))
      ]), { id: "subscriptions" }))
  })
}

// ------------------------------------------------------------------------------------------------
// projections

/** @param {AbortSignal} signal */
const projectionList = (signal) =>
  every(signal, 2000, async () => {
    const { projections } = await getJson("/projections/any")
    if (signal.aborted) return
    render(
      h("h1", {}, "Projections"),
      projections.length === 0 ? h("p", { class: "muted" }, "No projections.") : table(
        ["name", "mode", "status", "progress", "events processed", "position", "reason"],
        projections.map((/** @type {any} */ p) => [
          td(h("a", { href: `#/projections/${encodeURIComponent(p.name)}` }, p.name)), td(p.mode), td(p.status),
          td(h("span", {}, h("progress", { max: 100, value: p.progress }), ` ${p.progress}%`)), td(p.eventsProcessedAfterRestart, true),
          td(p.position), td(p.stateReason)
        ]), { id: "projections" }))
  })

/** @param {string} name @param {AbortSignal} signal */
const projectionPage = async (name, signal) => {
  const base = `/projection/${encodeURIComponent(name)}`
  const partition = h("input", { id: "partition", placeholder: "partition (empty: the whole state)", size: 30 })
  const state = h("pre", { id: "state" })
  const result = h("pre", { id: "result" })
  const stats = h("div", {})
  const message = h("p", { id: "projection-message" })
  const query = await (await call(`${base}/query`)).text()
  const readState = async () => {
    const p = encodeURIComponent(/** @type {HTMLInputElement} */ (partition).value)
    const [s, r] = await Promise.all([call(`${base}/state?partition=${p}`), call(`${base}/result?partition=${p}`)])
    text(state, pretty(await s.text()) || "(no state yet)")
    text(result, pretty(await r.text()) || "(no result yet)")
  }
  const command = (/** @type {string} */ c) => h("button", { id: `command-${c}`, onclick: async () => {
    try {
      await call(`${base}/command/${c}`, { method: "POST" })
      message.className = "ok"
      text(message, `${c}: done`)
      await refresh()
    } catch (e) {
      message.className = "error"
      text(message, e instanceof Error ? e.message : String(e))
    }
  } }, c)
  const refresh = async () => {
    const p = await getJson(base)
    if (signal.aborted) return
    stats.replaceChildren(table(["status", "mode", "progress", "events processed", "position", "last checkpoint", "reason"], [[
      td(h("span", { id: "projection-status" }, p.status)), td(p.mode), td(`${p.progress}%`), td(p.eventsProcessedAfterRestart, true),
      td(p.position), td(p.lastCheckpoint), td(p.stateReason)
    ]]))
    if (document.activeElement !== partition) await readState()
  }
  partition.addEventListener("change", () => readState())
  render(
    h("h1", {}, `Projection ${name}`),
    h("div", { class: "bar" }, command("enable"), command("disable"), command("reset")),
    message, stats,
    h("h2", {}, "Query"), h("pre", { id: "query" }, query),
    h("h2", {}, "State and result"),
    h("div", { class: "bar" }, partition, h("button", { onclick: readState }, "Read")),
    h("h3", {}, "State"), state, h("h3", {}, "Result"), result)
  await every(signal, 2000, refresh)
}

// ------------------------------------------------------------------------------------------------

window.addEventListener("hashchange", route)
showUser()
route()
