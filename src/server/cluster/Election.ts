/**
 * Who leads: the deterministic order a real node's elections use to pick the best candidate among
 * the members that answered (kurrent-io/KurrentDB `src/KurrentDB.Core/Services/ElectionsService.cs`,
 * `GetBestLeaderCandidate`): the latest epoch, then the longest log (the writer checkpoint), then
 * any member over a resigning leader, then the highest priority; ties go to the lowest member
 * index here, where a real node compares instance ids. Then, as a real node, the leader that wrote
 * the best candidate's last epoch is preferred when it answered with that epoch and is not
 * resigning. Only a majority of the voting members (not
 * read-only replicas) can elect: a member that has every acknowledged write is in any majority,
 * and as acknowledged writes end a log at the latest epoch, the winner has them all.
 *
 * @since 0.1.0
 */

/**
 * What a member brings to an election.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly index: number
  /** The epoch of the last epoch record in its log. */
  readonly epoch: number
  /** The end of its log (bytes). */
  readonly end: number
  readonly priority: number
  readonly resigning: boolean
  /** The member that wrote the epoch of its last epoch record (its leader), when known. */
  readonly epochLeader?: number | undefined
}

/**
 * The best candidate, or undefined when `candidates` are not a majority of `voters`.
 *
 * @since 0.1.0
 * @category elections
 */
export const bestCandidate = (candidates: ReadonlyArray<Candidate>, voters: number): Candidate | undefined => {
  if (candidates.length < Math.floor(voters / 2) + 1) return undefined
  const sorted = [...candidates].sort((a, b) =>
    b.epoch - a.epoch ||
    b.end - a.end ||
    Number(a.resigning) - Number(b.resigning) ||
    b.priority - a.priority ||
    a.index - b.index
  )
  const best = sorted[0]
  if (best === undefined) return undefined
  // the leader of the best candidate's epoch, if it answered with that epoch and is not
  // resigning, leads again: every record after that epoch record came from it, so it holds all
  // the best candidate holds (GetBestLeaderCandidate: "Previous Leader ... from last epoch record
  // is still alive"; it also trusts gossip that says it is alive, which an in-process cluster
  // does not need: a member that did not answer is not reachable)
  const previous = best.epochLeader === undefined
    ? undefined
    : candidates.find((c) => c.index === best.epochLeader && c.epoch === best.epoch)
  return previous !== undefined && !previous.resigning ? previous : best
}

/**
 * The cluster's commit point: the largest log offset that a majority of the `voters` hold durably,
 * given what each voting member holds.
 *
 * @since 0.1.0
 * @category elections
 */
export const majorityPoint = (held: ReadonlyArray<number>, voters: number): number => {
  const sorted = [...held].sort((a, b) => b - a)
  return sorted[Math.floor(voters / 2)] ?? 0
}

/**
 * How long a leader that cannot reach a majority goes on leading: a real node's
 * `LeaderReplicationService.NoQuorumTimeout`, 3 s.
 *
 * @since 0.1.0
 * @category constants
 */
export const NO_QUORUM_TIMEOUT_MS = 3000

/**
 * How long a resigning leader waits for its writes to commit: a real node's `CommitTimeoutMs`
 * (2 s), after which its request managers time them out.
 *
 * @since 0.1.0
 * @category constants
 */
export const COMMIT_TIMEOUT_MS = 2000
