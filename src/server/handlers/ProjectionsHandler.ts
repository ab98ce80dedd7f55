/**
 * `event_store.client.projections.Projections`: Create (continuous, one-time, transient), Update,
 * Delete, Enable, Disable (and abort: `write_checkpoint = false`), Reset, RestartSubsystem,
 * Statistics (one, all, by mode), State and Result, with the answers, statuses and texts of
 * PROTOCOL.md §5, over the node's {@link ProjectionManager}.
 *
 * A duplicate name is answered as the version the node reports would: ALREADY_EXISTS after
 * v26.1, else the UNKNOWN "Envelope callback expected Updated, received Conflict instead" of the
 * released versions; a transient create is refused as deprecated after v26.1 as well.
 *
 * Access (PROTOCOL.md §7): Delete and RestartSubsystem need `$admins` or `$ops`, the others an
 * authenticated user; an insecure node allows everything.
 *
 * @since 0.1.0
 */
import { Code as Status } from "../../generated/code.ts"
import {
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type DisableReq,
  type DisableResp,
  type EnableReq,
  type EnableResp,
  ProjectionsService,
  type ResetReq,
  type ResetResp,
  type ResultReq,
  type ResultResp,
  type StateReq,
  type StateResp,
  type StatisticsReq,
  type StatisticsResp,
  type UpdateReq,
  type UpdateResp
} from "../../generated/projections.ts"
import type { Empty } from "../../generated/shared.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import { logFailed, writeFailed, rpcFailure, type RpcFailure, unhandled } from "../errors.ts"
import type { CommandFailure, ProjectionManager, ProjectionMode, RunAs } from "../projections/ProjectionManager.ts"
import type { Store } from "../storage/Store.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import { newUuid } from "../codec/Uuid.ts"

/**
 * The methods served: the whole Projections service.
 *
 * @since 0.1.0
 * @category constants
 */
export const ProjectionsServiceDefinition: ServiceDefinition = ProjectionsService

/**
 * What the handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionsContext {
  readonly store: Store
  readonly auth: Auth
  readonly projections: ProjectionManager
  /** The version the node reports ("X.Y.Z"): it decides the duplicate-name answer. */
  readonly version: string
}

/** Is the reported version after v26.1 (the behaviour at the server's HEAD)? */
const isAfter26_1 = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0)
  return major > 26 || (major === 26 && minor > 1)
}

/**
 * NOT_FOUND "Projection 'x' not found".
 *
 * @since 0.1.0
 * @category constructors
 */
export const projectionNotFound = (name: string): RpcFailure => rpcFailure(Status.NOT_FOUND, `Projection '${name}' not found`)

/**
 * UNKNOWN "Envelope callback expected T, received M instead" (a reply the handler did not expect).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unexpectedReply = (expected: string, received: string): RpcFailure =>
  rpcFailure(Status.UNKNOWN, `Envelope callback expected ${expected}, received ${received} instead`)

/**
 * JSON text as a `google.protobuf.Value` payload (ts-proto wraps plain values); empty → `{}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const valueOfJson = (text: string): unknown => {
  if (text === "") return {}
  try {
    return JSON.parse(text)
  } catch {
    return {}
  }
}

const MODES: Record<string, ProjectionMode> = { continuous: "Continuous", transient: "Transient", oneTime: "OneTime" }

/**
 * The Projections service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeProjectionsHandler = (ctx: ProjectionsContext): ServiceImplementation => {
  const { auth, projections, store } = ctx
  const afterHead = isAfter26_1(ctx.version)

  /** The caller, if allowed; `operator` = admins or ops (PROTOCOL.md §7). */
  const principalFor = (call: ServerCall, operator: boolean): Principal | RpcFailure =>
    auth.authorize(call.metadata, operator ? Access.operator : Access.user)
  const isFailure = (p: Principal | RpcFailure): p is RpcFailure => p instanceof Error

  const runAsOf = (principal: Principal): RunAs => ({
    name: principal.login ?? (principal.isSystem ? "system" : "anonymous"),
    roles: principal.roles
  })

  /** Replies once the writes the command made are durable (with `db`). */
  const afterWrite = <A>(callback: UnaryCallback<A>, reply: A) =>
    store.whenDurable((error) => (error === undefined ? callback(null, reply) : callback(writeFailed(error))))

  /** The failure of a management command as a real node answers it. */
  const failureOf = (name: string, failure: CommandFailure): RpcFailure => {
    switch (failure._tag) {
      case "NotFound":
        return projectionNotFound(name)
      case "Conflict":
        return afterHead ? rpcFailure(Status.ALREADY_EXISTS, failure.message) : unexpectedReply("Updated", "Conflict")
      case "OperationFailed":
        return unexpectedReply("Updated", "OperationFailed")
      case "TooMany":
        return rpcFailure(Status.RESOURCE_EXHAUSTED, `The node holds its maximum of ${failure.max} projections`)
    }
  }

  const command = <A>(
    call: ServerCall,
    callback: UnaryCallback<A>,
    operator: boolean,
    name: string | undefined,
    run: (principal: Principal, name: string) => CommandFailure | undefined,
    reply: A
  ) => {
    const principal = principalFor(call, operator)
    if (isFailure(principal)) return callback(principal)
    // the real handlers read `request.Options.Name`: without options, a NullReferenceException
    if (name === undefined) return callback(unhandled())
    let failure: CommandFailure | undefined
    try {
      failure = run(principal, name)
    } catch {
      return callback(unhandled())
    }
    if (failure !== undefined) return callback(failureOf(name, failure))
    afterWrite(callback, reply)
  }

  return {
    create: (call: ServerCall<CreateReq, CreateResp>, callback: UnaryCallback<CreateResp>) => {
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const options = call.request.options
      const mode = options?.mode
      if (options === undefined || mode === undefined) return callback(unhandled())
      if (mode.$case === "continuous" && mode.value.trackEmittedStreams && !mode.value.emitEnabled) {
        // InvalidOperationException("EmitEnabled must be set to true to track emitted streams.")
        return callback(unhandled())
      }
      if (mode.$case === "transient" && afterHead) {
        return callback(rpcFailure(Status.FAILED_PRECONDITION, "Transient projections are deprecated and can no longer be created"))
      }
      const name = mode.$case === "oneTime" ? newUuid() : mode.value.name
      const emitEnabled = mode.$case === "continuous" && mode.value.emitEnabled
      let failure: CommandFailure | undefined
      try {
        failure = projections.create({
          name,
          mode: MODES[mode.$case]!,
          query: options.query,
          emitEnabled,
          trackEmittedStreams: mode.$case === "continuous" && emitEnabled && mode.value.trackEmittedStreams,
          runAs: runAsOf(principal)
        })
      } catch {
        return callback(unhandled())
      }
      if (failure !== undefined) return callback(failureOf(name, failure))
      afterWrite(callback, {})
    },

    update: (call: ServerCall<UpdateReq, UpdateResp>, callback: UnaryCallback<UpdateResp>) => {
      const options = call.request.options
      const emit = options?.emitOption
      command(call, callback, false, options?.name, (principal, name) =>
        projections.update(name, options!.query, emit?.$case === "emitEnabled" ? emit.value : undefined, runAsOf(principal)), {})
    },

    delete: (call: ServerCall<DeleteReq, DeleteResp>, callback: UnaryCallback<DeleteResp>) => {
      const options = call.request.options
      command(call, callback, true, options?.name, (_principal, name) =>
        projections.delete(name, {
          deleteEmittedStreams: options!.deleteEmittedStreams,
          deleteStateStream: options!.deleteStateStream,
          deleteCheckpointStream: options!.deleteCheckpointStream
        }), {})
    },

    enable: (call: ServerCall<EnableReq, EnableResp>, callback: UnaryCallback<EnableResp>) =>
      command(call, callback, false, call.request.options?.name, (_p, name) => projections.enable(name), {}),

    disable: (call: ServerCall<DisableReq, DisableResp>, callback: UnaryCallback<DisableResp>) => {
      const options = call.request.options
      command(call, callback, false, options?.name, (_p, name) => projections.disable(name, options!.writeCheckpoint), {})
    },

    reset: (call: ServerCall<ResetReq, ResetResp>, callback: UnaryCallback<ResetResp>) =>
      command(call, callback, false, call.request.options?.name, (_p, name) => projections.reset(name), {}),

    restartSubsystem: (call: ServerCall<Empty, Empty>, callback: UnaryCallback<Empty>) => {
      const principal = principalFor(call, true)
      if (isFailure(principal)) return callback(principal)
      projections.restart()
      afterWrite(callback, {})
    },

    state: (call: ServerCall<StateReq, StateResp>, callback: UnaryCallback<StateResp>) => {
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const options = call.request.options
      if (options === undefined) return callback(unhandled())
      const p = projections.get(options.name)
      if (p === undefined) return callback(projectionNotFound(options.name))
      callback(null, { state: valueOfJson(projections.stateOf(p, options.partition)) })
    },

    result: (call: ServerCall<ResultReq, ResultResp>, callback: UnaryCallback<ResultResp>) => {
      const principal = principalFor(call, false)
      if (isFailure(principal)) return callback(principal)
      const options = call.request.options
      if (options === undefined) return callback(unhandled())
      const p = projections.get(options.name)
      if (p === undefined) return callback(projectionNotFound(options.name))
      callback(null, { result: valueOfJson(projections.resultOf(p, options.partition)) })
    },

    statistics: (call: ServerCall<StatisticsReq, StatisticsResp>) => {
      const principal = principalFor(call, false)
      if (isFailure(principal)) return call.sendStatus(principal)
      const mode = call.request.options?.mode
      if (mode === undefined) return call.sendStatus(unhandled())
      let selected
      if (mode.$case === "name" && mode.value !== "") {
        const p = projections.get(mode.value)
        if (p === undefined) return call.sendStatus(projectionNotFound(mode.value))
        selected = [p]
      } else {
        const wanted = mode.$case === "all" || mode.$case === "name" ? undefined : MODES[mode.$case]
        selected = projections.all().filter((p) => wanted === undefined || p.mode === wanted)
      }
      for (const p of selected) {
        const s = projections.statistics(p)
        call.write({
          details: {
            coreProcessingTime: BigInt(s.coreProcessingTimeMs),
            version: BigInt(s.version),
            epoch: BigInt(s.epoch),
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
            eventsProcessedAfterRestart: BigInt(s.eventsProcessedAfterRestart),
            checkpointStatus: s.checkpointStatus,
            bufferedEvents: 0n,
            writePendingEventsBeforeCheckpoint: 0,
            writePendingEventsAfterCheckpoint: 0
          }
        })
      }
      call.end()
    }
  }
}
