/**
 * @since 0.1.0
 */

/**
 * A checkpoint of a filtered `$all` subscription: the position up to which the server has
 * searched. Resuming from it skips the events the filter has already rejected.
 *
 * @since 0.1.0
 * @category models
 */
export class Checkpoint {
  readonly _tag = "Checkpoint" as const
  readonly commitPosition: bigint
  readonly preparePosition: bigint
  constructor(commitPosition: bigint, preparePosition: bigint = commitPosition) {
    this.commitPosition = commitPosition
    this.preparePosition = preparePosition
  }
  /** Always true. */
  get isCheckpoint(): true {
    return true
  }
  /** Always false. */
  get isCaughtUp(): false {
    return false
  }
}
