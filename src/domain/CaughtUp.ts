/**
 * @since 0.1.0
 */

/**
 * Marks the moment a catch-up subscription has delivered every recorded event and goes live.
 * `commitPosition` (for `$all`) or `streamPosition` (for a stream) is the last position the
 * server had then, when it says.
 *
 * @since 0.1.0
 * @category models
 */
export class CaughtUp {
  readonly _tag = "CaughtUp" as const
  readonly commitPosition: bigint | undefined
  readonly streamPosition: bigint | undefined
  readonly timestamp: Date | undefined
  constructor(fields: {
    readonly commitPosition?: bigint | undefined
    readonly streamPosition?: bigint | undefined
    readonly timestamp?: Date | undefined
  }) {
    this.commitPosition = fields.commitPosition
    this.streamPosition = fields.streamPosition
    this.timestamp = fields.timestamp
  }
  /** Always false. */
  get isCheckpoint(): false {
    return false
  }
  /** Always true. */
  get isCaughtUp(): true {
    return true
  }
}
