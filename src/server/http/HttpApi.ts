/**
 * The node's HTTP API beyond `/ping`, `/info`, `/stats` and `/gossip`: streams, persistent
 * subscriptions and projections shaped like a real node's HTTP API, and the web UI. One handler
 * for the HTTP/1.1 requests of the node's port; it answers 404 for what none of them serves.
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import type { Auth } from "../Auth.ts"
import type { PersistentGroups } from "../persistent/PersistentGroups.ts"
import type { ProjectionManager } from "../projections/ProjectionManager.ts"
import type { Store } from "../storage/Store.ts"
import { exchangeOf, text } from "./HttpExchange.ts"
import { makeProjectionsApi } from "./ProjectionsApi.ts"
import { makeStreamsApi } from "./StreamsApi.ts"
import { makeSubscriptionsApi } from "./SubscriptionsApi.ts"
import { makeWebUi } from "./WebUi.ts"

/**
 * What the HTTP API reads and acts on.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpApiContext {
  readonly store: Store
  readonly auth: Auth
  readonly groups: PersistentGroups
  readonly projections: ProjectionManager
  /** Largest request body (bytes); default 16 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** Longest `ES-LongPoll` wait in seconds; default 30. */
  readonly maxLongPollSeconds?: number | undefined
}

/**
 * The HTTP API's handler and a way to end its open long polls (when the node stops).
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpApi {
  readonly handle: (req: http.IncomingMessage, res: http.ServerResponse) => void
  readonly close: () => void
}

/**
 * Builds the HTTP API of a node.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeHttpApi = (ctx: HttpApiContext): HttpApi => {
  const longPolls = new Set<() => void>()
  const handlers = [
    makeStreamsApi({
      store: ctx.store,
      auth: ctx.auth,
      maxBodyBytes: ctx.maxBodyBytes ?? 16 * 1024 * 1024,
      maxLongPollSeconds: ctx.maxLongPollSeconds ?? 30,
      longPolls
    }),
    makeSubscriptionsApi(ctx),
    makeProjectionsApi(ctx),
    makeWebUi()
  ]
  return {
    handle: (req, res) => {
      const ex = exchangeOf(req, res)
      if (ex === undefined) {
        req.resume()
        return text(res, 400, "Bad Request")
      }
      for (const handler of handlers) if (handler(ex)) return
      req.resume()
      text(res, 404, "Not Found")
    },
    close: () => {
      for (const end of Array.from(longPolls)) end()
    }
  }
}
