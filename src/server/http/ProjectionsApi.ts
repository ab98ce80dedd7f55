/**
 * A real node's HTTP projections API: `GET /projections/{any|all-non-transient|continuous|onetime|transient}`
 * (`{ projections: [statistics…] }`), `GET /projection/{name}` (its statistics),
 * `/projection/{name}/statistics`, `/projection/{name}/query` (the query text; `?config=yes` as
 * JSON with its settings), `/projection/{name}/state` and `/result` (`?partition=`), and
 * `POST /projection/{name}/command/{enable|disable|reset}`. Access as the gRPC API's: users.
 *
 * @since 0.1.0
 */
import { Access, type Auth } from "../Auth.ts"
import type { CommandFailure, ManagedProjection, ProjectionManager } from "../projections/ProjectionManager.ts"
import type { Store } from "../storage/Store.ts"
import { authorize, baseUrl, type HttpExchange, json, methodNotAllowed, text } from "./HttpExchange.ts"

/**
 * What the projections API needs of the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionsApiContext {
  readonly store: Store
  readonly auth: Auth
  readonly projections: ProjectionManager
}

const MODES: Record<string, ReadonlyArray<string> | undefined> = {
  any: undefined,
  "all-non-transient": ["Continuous", "OneTime"],
  continuous: ["Continuous"],
  onetime: ["OneTime"],
  transient: ["Transient"]
}

/**
 * The handler of `/projections/...` and `/projection/...`: answers and returns true for paths it serves.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeProjectionsApi = (ctx: ProjectionsApiContext) => {
  const { auth, projections, store } = ctx

  const statisticsOf = (base: string, p: ManagedProjection) => {
    const s = projections.statistics(p)
    const self = `${base}/projection/${encodeURIComponent(p.name)}`
    return {
      coreProcessingTime: s.coreProcessingTimeMs,
      version: s.version,
      epoch: s.epoch,
      effectiveName: s.name,
      writesInProgress: 0,
      readsInProgress: 0,
      partitionsCached: s.partitionsCached,
      status: s.status,
      stateReason: s.stateReason,
      name: s.name,
      mode: s.mode,
      position: s.position,
      progress: s.progress,
      lastCheckpoint: s.lastCheckpoint,
      eventsProcessedAfterRestart: s.eventsProcessedAfterRestart,
      statusUrl: self,
      stateUrl: `${self}/state`,
      resultUrl: `${self}/result`,
      queryUrl: `${self}/query?config=yes`,
      enableCommandUrl: `${self}/command/enable`,
      disableCommandUrl: `${self}/command/disable`,
      checkpointStatus: s.checkpointStatus,
      bufferedEvents: 0,
      writePendingEventsBeforeCheckpoint: 0,
      writePendingEventsAfterCheckpoint: 0
    }
  }

  /** A state or result as stored (JSON text), or an empty body when there is none yet. */
  const jsonText = (ex: HttpExchange, body: string) => {
    ex.res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-cache" })
    ex.res.end(body)
  }

  const commandFailure = (ex: HttpExchange, failure: CommandFailure) => {
    switch (failure._tag) {
      case "NotFound":
        return text(ex.res, 404, "Not Found")
      case "Conflict":
        return text(ex.res, 409, failure.message)
      case "TooMany":
        return text(ex.res, 503, `The node holds its maximum of ${failure.max} projections`)
      case "OperationFailed":
        return text(ex.res, 400, failure.message)
    }
  }

  const command = (ex: HttpExchange, p: ManagedProjection, name: string) => {
    if (authorize(auth, ex, Access.user) === undefined) return
    let failure: CommandFailure | undefined
    try {
      switch (name) {
        case "enable":
          failure = projections.enable(p.name)
          break
        case "disable":
          failure = projections.disable(p.name, true)
          break
        case "reset":
          failure = projections.reset(p.name)
          break
        default:
          return text(ex.res, 404, "Not Found")
      }
    } catch {
      return text(ex.res, 500, "The command failed")
    }
    if (failure !== undefined) return commandFailure(ex, failure)
    store.whenDurable((error) => (error === undefined ? json(ex.res, 200, { name: p.name }) : text(ex.res, 503, "Not durable")))
  }

  return (ex: HttpExchange): boolean => {
    const [root, name, what, commandName, ...rest] = ex.segments
    if ((root !== "projections" && root !== "projection") || rest.length > 0) return false
    const method = ex.req.method ?? "GET"
    ex.req.resume()
    if (root === "projections") {
      const modes = MODES[name ?? "any"]
      if (name !== undefined && !(name in MODES) || what !== undefined) return false
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(ex.res, "GET"), true
      if (authorize(auth, ex, Access.user) === undefined) return true
      const base = baseUrl(ex.req)
      json(ex.res, 200, {
        projections: projections.all().filter((p) => modes === undefined || modes.includes(p.mode)).map((p) => statisticsOf(base, p))
      })
      return true
    }
    if (name === undefined) return false
    if (what === "command" && commandName !== undefined) {
      if (method !== "POST") return methodNotAllowed(ex.res, "POST"), true
      if (authorize(auth, ex, Access.user) === undefined) return true
      const p = projections.get(name)
      if (p === undefined) return text(ex.res, 404, "Not Found"), true
      command(ex, p, commandName)
      return true
    }
    if (commandName !== undefined) return false
    if (method !== "GET" && method !== "HEAD") return methodNotAllowed(ex.res, "GET"), true
    if (authorize(auth, ex, Access.user) === undefined) return true
    const p = projections.get(name)
    if (p === undefined) return text(ex.res, 404, "Not Found"), true
    const partition = ex.query.get("partition") ?? ""
    const base = baseUrl(ex.req)
    switch (what) {
      case undefined:
        json(ex.res, 200, statisticsOf(base, p))
        break
      case "statistics":
        json(ex.res, 200, { projections: [statisticsOf(base, p)] })
        break
      case "query":
        if (ex.query.get("config") === "yes") {
          json(ex.res, 200, { name: p.name, query: p.query, mode: p.mode, emitEnabled: p.emitEnabled, trackEmittedStreams: p.trackEmittedStreams })
        } else text(ex.res, 200, p.query)
        break
      case "state":
        jsonText(ex, projections.stateOf(p, partition))
        break
      case "result":
        jsonText(ex, projections.resultOf(p, partition))
        break
      default:
        text(ex.res, 404, "Not Found")
    }
    return true
  }
}
