/**
 * Decoding of HPACK's Huffman-coded strings (RFC 7541 §5.2, Appendix B).
 *
 * The code is canonical, so it is fully described by each symbol's code length: codes are
 * assigned in order of (length, symbol). The lengths below are Appendix B's; 256 is EOS.
 *
 * @internal
 */

// dprint-ignore
const LENGTHS: ReadonlyArray<number> = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30
]

const EOS = 256

/**
 * Decoding tables of the canonical code: for each length, the first code of that length, how
 * many codes have it, and where its symbols start in `SYMBOLS`.
 */
const MAX_LENGTH = 30
const FIRST_CODE = new Array<number>(MAX_LENGTH + 1).fill(0)
const COUNT = new Array<number>(MAX_LENGTH + 1).fill(0)
const OFFSET = new Array<number>(MAX_LENGTH + 1).fill(0)
const SYMBOLS: Array<number> = []
{
  for (const length of LENGTHS) COUNT[length]!++
  const bySymbol = LENGTHS.map((length, symbol) => [length, symbol] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
  for (const [, symbol] of bySymbol) SYMBOLS.push(symbol)
  let code = 0
  let offset = 0
  for (let length = 1; length <= MAX_LENGTH; length++) {
    FIRST_CODE[length] = code
    OFFSET[length] = offset
    code = (code + COUNT[length]!) * 2
    offset += COUNT[length]!
  }
}

/**
 * Decodes a Huffman-coded string. Returns `undefined` for an invalid encoding: EOS inside the
 * string, or padding longer than 7 bits or not made of ones (RFC 7541 §5.2).
 *
 * @internal
 */
export const decode = (bytes: Uint8Array, start: number, end: number): string | undefined => {
  let out = ""
  let code = 0
  let length = 0
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1)
      length++
      const index = code - FIRST_CODE[length]!
      if (index >= 0 && index < COUNT[length]!) {
        const symbol = SYMBOLS[OFFSET[length]! + index]!
        if (symbol === EOS) return undefined
        out += String.fromCharCode(symbol)
        code = 0
        length = 0
      } else if (length >= MAX_LENGTH) return undefined
    }
  }
  // the rest must be a prefix of EOS (all ones) of at most 7 bits
  if (length > 7 || code !== (1 << length) - 1) return undefined
  return out
}
