/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One sample of a node's statistics (`Monitoring.stats`): `raw`, every key and value as the node
 * sent them (text), and `values`, the same keys with numeric values as numbers (others kept as
 * text). Keys are a real node's: `proc-mem`, `proc-cpu`, `sys-freeMem`, `es-checksum`, ...
 *
 * @since 0.1.0
 * @category models
 */
export class Stats extends Schema.Class<Stats>("effect-esdb/Stats")({
  raw: Schema.Record(Schema.String, Schema.String),
  values: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String]))
}) {
  /** A numeric statistic, or undefined when absent or not a number. */
  number(key: string): number | undefined {
    const value = this.values[key]
    return typeof value === "number" ? value : undefined
  }
}

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/

/**
 * A statistic's text as a number when it is one (decimal notation), else the text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseValue = (text: string): number | string => {
  const t = text.trim()
  if (!NUMBER.test(t)) return text
  const n = Number(t)
  return Number.isFinite(n) ? n : text
}
