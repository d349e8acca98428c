/**
 * The reverse-mode tape: a list of closures, one per op whose output needs
 * a gradient, replayed backwards by `backward`. Nodes are whole layers
 * (linear, attention, layer norm), not scalars.
 */
export type BackwardFn = () => void;

const tape: BackwardFn[] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function record(fn: BackwardFn): void {
  tape.push(fn);
}

/** Runs fn without recording: outputs never require grad inside. */
export function noGrad<T>(fn: () => T): T {
  const saved = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = saved;
  }
}

export function tapeMark(): number {
  return tape.length;
}

/** Drops entries recorded after `mark` (a scope that ended without backward). */
export function tapeTruncate(mark: number): void {
  if (tape.length > mark) tape.length = mark;
}

/** Replays the tape backwards and empties it. */
export function replayTape(): void {
  for (let i = tape.length - 1; i >= 0; i--) tape[i]();
  tape.length = 0;
}
