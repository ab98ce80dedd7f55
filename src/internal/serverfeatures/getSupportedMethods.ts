/**
 * `ServerFeatures.get`: one GetSupportedMethods call. A node without the service (UNIMPLEMENTED:
 * older than 21.10) reports nothing, which is an answer, not a failure.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { ServerInfo, SupportedMethod } from "../../domain/ServerInfo.ts"
import { Code } from "../../generated/code.ts"
import type { SupportedMethods } from "../../generated/serverfeatures.ts"
import type { CallOptions } from "../transport/Options.ts"
import { toTransportError, type TransportError } from "../transport/TransportError.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { GetSupportedMethods } from "./methods.ts"

/** Most methods one answer is read to. */
const MAX_METHODS = 10_000

/** @internal */
export const toServerInfo = (answer: SupportedMethods): ServerInfo =>
  new ServerInfo({
    version: answer.eventStoreServerVersion,
    reported: true,
    methods: answer.methods.slice(0, MAX_METHODS).map((m) =>
      new SupportedMethod({ serviceName: m.serviceName, methodName: m.methodName, features: [...m.features] })
    )
  })

/** What a node without ServerFeatures reports. @internal */
export const unreported: ServerInfo = new ServerInfo({ version: "", methods: [], reported: false })

/** @internal */
export const getSupportedMethods = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<ServerInfo, TransportError> =>
  transport.call(
    { name: "ServerFeatures.get", kind: "read", options, narrow: toTransportError },
    (spec) => Effect.map(transport.unary(GetSupportedMethods, {}, spec), toServerInfo)
  ).pipe(
    Effect.catchIf(
      (error) => error._tag === "GrpcError" && error.code === Code.UNIMPLEMENTED,
      () => Effect.succeed(unreported)
    )
  )
