/**
 * The embedded EventStoreDB node: an in-memory node speaking the real gRPC protocol.
 *
 * @since 0.1.0
 */
export * from "./EmbeddedNode.ts"
export * from "./cluster/EmbeddedCluster.ts"
