/**
 * The typed errors of effect-esdb: one tagged error per failure users handle.
 *
 * @since 0.1.0
 */
export * from "./AccessDenied.ts"
export * from "./ConnectionClosed.ts"
export * from "./DeadlineExceeded.ts"
export * from "./DiscoveryFailed.ts"
export * from "./GrpcError.ts"
export * from "./InvalidArgument.ts"
export * from "./InvalidConnectionString.ts"
export * from "./MaximumAppendSizeExceeded.ts"
export * from "./NodeIsNotLeader.ts"
export * from "./NotFound.ts"
export * from "./ServiceUnavailable.ts"
export * from "./StreamDeleted.ts"
export * from "./SubscriptionAlreadyExists.ts"
export * from "./SubscriptionNotFound.ts"
export * from "./TlsFailed.ts"
export * from "./Unauthenticated.ts"
export * from "./WrongCurrentVersion.ts"
export * from "./ProjectionAlreadyExists.ts"
export * from "./ProjectionFaulted.ts"
export * from "./ProjectionIdleTimeout.ts"
export * from "./ProjectionNotFound.ts"
export * from "./ProjectionStateInvalid.ts"
export * from "./ProjectionWrongState.ts"
