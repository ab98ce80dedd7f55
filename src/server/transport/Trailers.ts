/**
 * Trailing metadata a handler attaches to a status (`exception`, `stream-name`, ...): plain
 * lower-case keys and text values, sent as trailers by {@link statusHeaders}.
 *
 * @since 0.1.0
 */
import type { TrailerSource } from "./ServerCall.ts"

/**
 * A small ordered map of trailer keys to text values.
 *
 * @since 0.1.0
 * @category models
 */
export class Trailers implements TrailerSource {
  private readonly values = new Map<string, string>()

  /** Sets `key` (lower-cased) to `value`, replacing an earlier value. */
  set(key: string, value: string): this {
    this.values.set(key.toLowerCase(), value)
    return this
  }

  /** The value of `key`, if set. */
  get(key: string): string | undefined {
    return this.values.get(key.toLowerCase())
  }

  /** The trailers as HTTP/2 header fields. */
  toHttp2Headers(): { readonly [key: string]: string } {
    return Object.fromEntries(this.values)
  }
}
