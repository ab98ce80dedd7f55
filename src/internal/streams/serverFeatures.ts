/**
 * A small internal reader of the node's ServerFeatures for the v2 appends: the methods it lists
 * (lowercased `/service/method` paths) and its version, asked once per connection (again after a
 * reconnect, which may reach another node). A node without ServerFeatures (UNIMPLEMENTED) lists
 * nothing. The official client decides the same way, from the listed methods.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { Code } from "../../generated/code.ts"
import { ServerFeaturesService, type SupportedMethods } from "../../generated/serverfeatures.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Method, TransportShape } from "../transport/Transport.ts"

/** What the node says it serves. @internal */
export interface Features {
  readonly methods: ReadonlySet<string>
  readonly version: string | undefined
}

const GetSupportedMethods: Method<{}, SupportedMethods> = ServerFeaturesService.getSupportedMethods

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
      return transport.deadline(options, "reply").pipe(
        Effect.flatMap((deadline) =>
          transport.retry(transport.unary(GetSupportedMethods, {}, { options, kind: "read", deadline }), deadline, "ServerFeatures.getSupportedMethods")
        ),
        Effect.map((reply): Features => ({
          methods: new Set(reply.methods.map((m) => `/${m.serviceName}/${m.methodName}`.toLowerCase())),
          version: reply.eventStoreServerVersion === "" ? undefined : reply.eventStoreServerVersion
        })),
        Effect.catchIf(
          (error): error is CallError => error._tag === "GrpcError" && error.code === Code.UNIMPLEMENTED,
          () => Effect.succeed<Features>({ methods: new Set(), version: undefined })
        ),
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
