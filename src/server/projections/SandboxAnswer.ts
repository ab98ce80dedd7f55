/**
 * Decoding what the QuickJS sandbox answers (JSON text parsed on the host) into the host's
 * models: the query definition and the writes a handler emitted. Anything malformed is refused,
 * never trusted.
 *
 * @since 0.1.0
 */
import type { EmittedEvent, ProjectionDefinition } from "./ProjectionModel.ts"

/** A JSON answer of the sandbox's dispatcher: a fault, or the command's fields. */
export interface Answer {
  readonly fault?: unknown
  readonly [key: string]: unknown
}

/** Decodes one write the sandbox's handler emitted, or undefined when it is malformed. */
export const toEmitted = (item: unknown): EmittedEvent | undefined => {
  if (item === null || typeof item !== "object") return undefined
  const r = item as Record<string, unknown>
  const kind = r.kind
  if (kind !== "emit" && kind !== "linkTo" && kind !== "copyTo" && kind !== "linkStreamTo") return undefined
  if (typeof r.streamId !== "string" || typeof r.eventType !== "string" || typeof r.isJson !== "boolean") return undefined
  // emit(stream, type, undefined) stringifies to undefined, which JSON drops: the real node writes no body.
  const data = r.data === undefined ? "" : r.data
  if (typeof data !== "string") return undefined
  if (r.metadata !== null && typeof r.metadata !== "string") return undefined
  return { kind, streamId: r.streamId, eventType: r.eventType, data, isJson: r.isJson, metadata: r.metadata }
}

/** Decodes the sandbox's query definition, or the fault reason when it is malformed. */
export const toDefinition = (answer: Answer, mayEmit: boolean): ProjectionDefinition | string => {
  const o = answer.options as Record<string, unknown> | undefined
  const strings = (v: unknown): Array<string> | undefined =>
    Array.isArray(v) && v.every((s) => typeof s === "string") ? v as Array<string> : undefined
  const streams = strings(answer.streams)
  const categories = strings(answer.categories)
  const events = strings(answer.events)
  if (o === undefined || o === null || typeof o !== "object" || !streams || !categories || !events) {
    return "The projection runtime gave a malformed definition"
  }
  const nullableString = (v: unknown) => (typeof v === "string" ? v : null)
  const processingLag = Number(o.processingLag ?? 0)
  return {
    allStreams: answer.allStreams === true,
    streams,
    categories,
    catalogStream: nullableString(answer.catalogStream),
    allEvents: answer.allEvents === true,
    events,
    byStreams: answer.byStreams === true,
    byCustomPartitions: answer.byCustomPartitions === true,
    definesFold: o.definesFold === true,
    definesStateTransform: o.definesStateTransform === true,
    producesResults: o.producesResults === true,
    handlesDeletedNotifications: o.handlesDeletedNotifications === true,
    options: {
      resultStreamName: nullableString(o.resultStreamName),
      partitionResultStreamNamePattern: nullableString(o.partitionResultStreamNamePattern),
      includeLinks: o.$includeLinks === true,
      reorderEvents: o.reorderEvents === true,
      processingLag: Number.isFinite(processingLag) ? processingLag : 0,
      biState: o.biState === true
    },
    mayEmit
  }
}
