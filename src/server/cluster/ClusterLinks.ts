/**
 * The links between a cluster's members, one way each (the leader's commits to a follower, its
 * acknowledgements back, the commit point): a message arrives after the link's delay (the larger
 * of the two members' peer delays when it was sent), in the order sent on that link, and never
 * when either end is cut off from its peers, then or on arrival. Time is the cluster's clock
 * (ClusterClock.ts).
 *
 * @since 0.1.0
 */
import type { ClusterClock } from "./ClusterClock.ts"
import type { ClusterMember } from "./ClusterMember.ts"

/** One way of the link between two members. */
interface Link {
  /** When the last message sent will arrive (later ones arrive after it). */
  nextDue: number
  readonly inbox: Array<{ readonly due: number; readonly run: () => void }>
  draining: boolean
}

/**
 * The links of one cluster.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterLinks {
  private readonly links = new Map<string, Link>()
  private readonly clock: ClusterClock

  constructor(clock: ClusterClock) {
    this.clock = clock
  }

  /** Runs `f` at `to` once the link from `from` delivers it. */
  send(from: ClusterMember, to: ClusterMember, f: () => void): void {
    if (from.cutPeers || to.cutPeers) return
    const key = `${from.index}>${to.index}`
    let link = this.links.get(key)
    if (link === undefined) this.links.set(key, link = { nextDue: 0, inbox: [], draining: false })
    const delay = Math.max(from.peerDelayMs, to.peerDelayMs)
    const due = Math.max(this.clock.now() + delay, link.nextDue)
    link.nextDue = due
    link.inbox.push({ due, run: () => (from.cutPeers || to.cutPeers ? undefined : f()) })
    if (!link.draining) this.drainLater(link)
  }

  private drainLater(link: Link): void {
    const first = link.inbox[0]
    if (first === undefined) {
      link.draining = false
      return
    }
    link.draining = true
    const drain = () => {
      const now = this.clock.now()
      while (link.inbox.length > 0 && link.inbox[0]!.due <= now) link.inbox.shift()!.run()
      this.drainLater(link)
    }
    this.clock.after(first.due - this.clock.now(), drain)
  }
}
