/**
 * The error unions of the Streams operations, and how a transport failure is narrowed to the
 * union of the operation that met it: without casts, by a type guard on the tag.
 *
 * @internal
 */
import type { ConsistencyViolation } from "../../errors/ConsistencyViolation.ts"
import type { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { UnsupportedFeature } from "../../errors/UnsupportedFeature.ts"
import type { MaximumAppendSizeExceeded } from "../../errors/MaximumAppendSizeExceeded.ts"
import type { NotFound } from "../../errors/NotFound.ts"
import type { StreamDeleted } from "../../errors/StreamDeleted.ts"
import type { WrongCurrentVersion } from "../../errors/WrongCurrentVersion.ts"
import type { CallError } from "../transport/CallError.ts"
import { narrow, toTransportError, type TransportError, transportTags } from "../transport/TransportError.ts"

export type { TransportError } from "../transport/TransportError.ts"

/**
 * Errors of appends and of setting stream metadata.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendError = WrongCurrentVersion | StreamDeleted | MaximumAppendSizeExceeded | TransportError

/**
 * Errors of appending to several streams at once (`appendMany`): a stream not in the expected
 * state (named), a tombstoned stream, the size limits, a node without the v2 append.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendManyError =
  | WrongCurrentVersion
  | StreamDeleted
  | MaximumAppendSizeExceeded
  | UnsupportedFeature
  | InvalidArgument
  | TransportError

/**
 * Errors of `appendRecords`: the failing consistency checks, the size limits, a node without it.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendRecordsError =
  | ConsistencyViolation
  | MaximumAppendSizeExceeded
  | UnsupportedFeature
  | InvalidArgument
  | TransportError

/**
 * Errors of reading one stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadStreamError = NotFound | StreamDeleted | TransportError

/**
 * Errors of subscribing to one stream (a missing stream is waited for, not an error).
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscribeToStreamError = StreamDeleted | TransportError

/**
 * Errors of reading or subscribing to `$all`.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadAllError = TransportError

/**
 * Errors of deleting and tombstoning a stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeleteError = WrongCurrentVersion | NotFound | StreamDeleted | TransportError

/** @internal */
export const toAppendError: (error: CallError) => AppendError = narrow([
  ...transportTags,
  "WrongCurrentVersion",
  "StreamDeleted",
  "MaximumAppendSizeExceeded"
])
/** @internal */
export const toReadStreamError: (error: CallError) => ReadStreamError = narrow([...transportTags, "NotFound", "StreamDeleted"])
/** @internal */
export const toSubscribeToStreamError: (error: CallError) => SubscribeToStreamError = narrow([
  ...transportTags,
  "StreamDeleted"
])
/** @internal */
export const toReadAllError: (error: CallError) => ReadAllError = toTransportError
/** @internal */
export const toDeleteError: (error: CallError) => DeleteError = narrow([
  ...transportTags,
  "WrongCurrentVersion",
  "NotFound",
  "StreamDeleted"
])
/** @internal */
export const toAppendManyError: (error: CallError) => Exclude<AppendManyError, UnsupportedFeature> = narrow([
  ...transportTags,
  "WrongCurrentVersion",
  "StreamDeleted",
  "MaximumAppendSizeExceeded"
])
/** @internal */
export const toAppendRecordsError: (error: CallError) => Exclude<AppendRecordsError, UnsupportedFeature> = narrow([
  ...transportTags,
  "ConsistencyViolation",
  "MaximumAppendSizeExceeded"
])
