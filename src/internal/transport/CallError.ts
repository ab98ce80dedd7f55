/**
 * Every failure a call through the transport can end with.
 *
 * @since 0.1.0
 */
import type { ConnectionClosed } from "../../errors/ConnectionClosed.ts"
import type { EsdbError } from "./classifyError.ts"
import type { DiscoveryError } from "./Discovery.ts"

/**
 * A classified gRPC failure, discovery that found no node (or none of the preferred kind), or a
 * connection closed by its scope.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = EsdbError | DiscoveryError | ConnectionClosed
