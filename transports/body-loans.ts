/**
 * Bodies lent between a transport and the code above it, so that large buffers are used again instead of new ones
 * being made. A transport lends a large message it read into a buffer of its own to whoever handles it, and a
 * handler that is done with it (and reads nothing of it afterwards) calls `releaseBody`, so that the buffer takes
 * a later message. The other way, a replication master lends the chunk it read into a buffer of its own, and a
 * direct link that has written it to its socket gives it back. A replication chunk is up to a mebibyte, and V8
 * runs a full collection for about every 64 MiB of new external memory: a slave that received each chunk into a
 * new buffer at 90 MB/s ran two or three a second, up to 30 ms each. Only the exact view lent can be released,
 * and only once: a body not lent, a part of one, or one released already is ignored.
 */
const loans = new WeakMap<Uint8Array, () => void>();

/** Lends `view`: `giveBack` runs when it is released. */
export function lend(view: Uint8Array, giveBack: () => void): void {
  loans.set(view, giveBack);
}

/**
 * The loan of `view` goes with `to`, a view into the same memory (a frame's body decoded from it); not when `to`
 * is empty or elsewhere (a shared empty body, a copy).
 */
export function passLoan(view: Uint8Array, to: Uint8Array): void {
  const giveBack = loans.get(view);
  if (giveBack === undefined || to.length === 0 || to.buffer !== view.buffer) return;
  loans.delete(view);
  loans.set(to, giveBack);
}

/**
 * The loan of `view` taken by whoever will be done with it last (a transport writing a lent body to a socket): its
 * give-back, to call then, or undefined when `view` is not lent.
 */
export function takeLoan(view: Uint8Array): (() => void) | undefined {
  const giveBack = loans.get(view);
  if (giveBack !== undefined) loans.delete(view);
  return giveBack;
}

/** The caller is done with `body`: when a transport lent it, its memory may take a later message. */
export function releaseBody(body: Uint8Array): void {
  takeLoan(body)?.();
}
