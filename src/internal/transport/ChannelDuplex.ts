/**
 * A call on grpc-js's channel-level call API (`Channel.createCall`, the layer under
 * `Client.makeBidiStreamRequest` and `makeServerStreamRequest`): messages go to a listener instead
 * of through a Node stream. The stream adds, per message received, a `Readable.push`, a `data`
 * event and a `_read` on the next tick, and per message sent a `Writable` round; persistent
 * consumers, reads and subscriptions pay them per event (BENCHMARKS.md sections 11 and 21: about
 * 5% of a persistent consumer's client CPU, 4-17% of a read's). Duplex calls and server streams
 * (one request, then the half-close) both run on it. What the stream did for us is done here:
 * - writes go one at a time: each after grpc-js took the one before (its callback), as a
 *   `Writable` sends them, since a call not yet resolved to a connection holds one message only;
 * - reads: one message asked for at a time (`startRead`), the next asked for once the listener
 *   had this one, unless paused (HTTP/2 flow control then holds the peer back);
 * - replies are decoded by the method's deserializer; one that fails to decode cancels the call
 *   with INTERNAL, as grpc-js does;
 * - a status other than OK comes as the error grpc-js's client makes of it (`code`, `details`,
 *   `metadata`, message `<code> <NAME>: <details>`), so that the classifier sees what it sees
 *   from every other call.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import type { Method } from "./Calls.ts"
import { errorText } from "../errorText.ts"

/** What a channel duplex call reports. @internal */
export interface ChannelDuplexListener<O> {
  readonly onMessage: (message: O) => void
  /** The call ended: `error` is undefined for a status OK. Called once. */
  readonly onEnd: (error: grpc.ServiceError | undefined, status: grpc.StatusObject) => void
}

/** A running channel duplex call. @internal */
export interface ChannelDuplex<I> {
  /** Sends `message` after those written before; `written` once grpc-js handed it to HTTP/2. */
  readonly write: (message: I, written?: () => void) => void
  /** Half-closes after what was written; `done` once every message before was handed to HTTP/2. */
  readonly end: (done?: () => void) => void
  readonly pause: () => void
  readonly resume: () => void
  readonly cancel: () => void
}

/**
 * The error grpc-js's client makes of a status (`callErrorFromStatus`): an `Error` whose message
 * is `<code> <NAME>: <details>`, carrying the status's fields.
 *
 * @internal
 */
export const errorFromStatus = (status: grpc.StatusObject): grpc.ServiceError =>
  Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), status)

/**
 * Starts a duplex call of `method` on `channel`, with `metadata` and `deadline` (a Date or epoch
 * milliseconds; Infinity for none).
 *
 * @internal
 */
export const openChannelDuplex = <I, O>(
  channel: grpc.Channel,
  method: Method<I, O>,
  metadata: grpc.Metadata,
  deadline: grpc.Deadline,
  listener: ChannelDuplexListener<O>
): ChannelDuplex<I> => {
  const call = channel.createCall(method.path, deadline, undefined, null, undefined)
  // messages waiting for the one before to be taken, with their callbacks
  const queue: Array<{ readonly bytes: Buffer; readonly written: (() => void) | undefined }> = []
  let sending = false
  let ending = false
  let halfClosed = false
  let onEnded: Array<() => void> = []
  let paused = false
  let reading = false
  let ended = false
  let readError: grpc.StatusObject | undefined

  const read = () => {
    if (reading || paused || ended) return
    reading = true
    call.startRead()
  }

  const finishWrites = () => {
    if (!ending || sending || halfClosed || queue.length > 0) return
    halfClosed = true
    call.halfClose()
    const callbacks = onEnded
    onEnded = []
    for (const callback of callbacks) callback()
  }

  const sendNext = () => {
    const next = queue.shift()
    if (next === undefined) {
      sending = false
      finishWrites()
      return
    }
    sending = true
    call.sendMessageWithContext({
      callback: () => {
        next.written?.()
        sendNext()
      }
    }, next.bytes)
  }

  call.start(metadata, {
    onReceiveMetadata: () => {},
    onReceiveMessage: (bytes: Buffer) => {
      reading = false
      if (ended || readError !== undefined) return
      let message: O
      try {
        message = method.responseDeserialize(bytes)
      } catch (cause) {
        readError = {
          code: grpc.status.INTERNAL,
          details: `Response message parsing error: ${errorText(cause)}`,
          metadata: new grpc.Metadata()
        }
        call.cancelWithStatus(readError.code, readError.details)
        return
      }
      listener.onMessage(message)
      read()
    },
    onReceiveStatus: (received: grpc.StatusObject) => {
      if (ended) return
      ended = true
      const status = readError ?? received
      listener.onEnd(status.code === grpc.status.OK ? undefined : errorFromStatus(status), status)
    }
  })
  read()

  return {
    write: (message, written) => {
      if (ended || ending) return
      let bytes: Buffer
      try {
        bytes = method.requestSerialize(message)
      } catch (cause) {
        call.cancelWithStatus(
          grpc.status.INTERNAL,
          `Request message serialization failure: ${errorText(cause)}`
        )
        return
      }
      queue.push({ bytes, written })
      if (!sending) sendNext()
    },
    end: (done) => {
      if (done !== undefined) {
        if (halfClosed) done()
        else onEnded.push(done)
      }
      ending = true
      finishWrites()
    },
    pause: () => {
      paused = true
    },
    resume: () => {
      if (!paused) return
      paused = false
      read()
    },
    cancel: () => {
      call.cancelWithStatus(grpc.status.CANCELLED, "Cancelled on client")
    }
  }
}
