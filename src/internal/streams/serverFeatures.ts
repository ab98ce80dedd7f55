/**
 * A small internal reader of the node's ServerFeatures for the v2 appends: the methods it lists
 * (lowercased `/service/method` paths) and its version, asked once per connection (again after a
 * reconnect, which may reach another node). A node without ServerFeatures (UNIMPLEMENTED) lists
 * nothing. The official client decides the same way, from the listed methods.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { getSupportedMethods } from "../serverfeatures/getSupportedMethods.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"

/** What the node says it serves. @internal */
export interface Features {
  readonly methods: ReadonlySet<string>
  readonly version: string | undefined
}

/** The lowercased path of a method, as ServerFeatures lists it. @internal */
export const featurePath = (path: string): string => path.toLowerCase()

/**
 * Makes the reader of one transport: `get` asks the node the first time, and again once the
 * transport has reconnected since.
 *
 * @internal
 */
export const make = (transport: TransportShape) => {
  let cached: { readonly generation: number; readonly features: Features } | undefined
  const get = (options: CallOptions | undefined): Effect.Effect<Features, CallError> =>
    Effect.suspend(() => {
      if (cached !== undefined && cached.generation === transport.generation()) return Effect.succeed(cached.features)
      // the ServerFeatures service's own call (one call path; UNIMPLEMENTED answers "nothing listed")
      return getSupportedMethods(transport, options).pipe(
        Effect.map((info): Features => ({
          methods: new Set(info.methods.map((m) => featurePath(`/${m.serviceName}/${m.methodName}`))),
          version: info.version === "" ? undefined : info.version
        })),
        Effect.tap((features) =>
          Effect.sync(() => {
            cached = { generation: transport.generation(), features }
          })
        )
      )
    })
  return { get }
}

/** The reader's shape. @internal */
export type ServerFeatures = ReturnType<typeof make>
