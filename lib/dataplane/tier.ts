/**
 * TurboFan for the functions a wake-up runs, asked of V8 once traffic has given them type
 * feedback.
 *
 * Only TurboFan, V8's top tier, turns a call to an FFI symbol into a direct C call; from Maglev,
 * the tier below, each `poll`, `read`, `sendmmsg` or `writev` goes through the runtime's generic
 * callback path. At ordinary loads V8's own counters never take the data path to TurboFan: they
 * count executed bytecode, and a lone packet executes little of it (docs/performance.md, "V8's
 * tiers"). With caches cold after a sleep, the slow path is a long stretch of runtime code to
 * fetch back: a `poll` and a `read` in a bare loop cost 57–59 µs of CPU per wake-up at Maglev,
 * 36–37 µs at TurboFan and 28 µs in C, packets 30 ms apart. So a Worker asks V8 for TurboFan
 * itself, through V8's `%OptimizeFunctionOnNextCall` (concurrent: compiled on a V8 thread, no
 * stall), which needs `--allow-natives-syntax` (`lib/v8_flags.ts`). Without the flag (stf as a
 * library, or run without its flags), {@link requestTurbofan} does nothing.
 *
 * A function V8 later deoptimises (traffic took a branch it had no feedback for) goes back to
 * V8's own counters until the next request; a request for a function already at TurboFan does
 * nothing.
 *
 * @module
 */

/** A function whose code V8 may optimise: any function or method, as a value. */
// deno-lint-ignore no-explicit-any
export type WakeUpFunction = (...args: any[]) => unknown;

/** Asks V8 for TurboFan code for each function; returns how many it asked for. */
export type Optimizer = (functions: readonly WakeUpFunction[]) => number;

/** V8's intrinsics, when `--allow-natives-syntax` lets this isolate parse them. */
const intrinsics = (() => {
  try {
    return {
      // Keeps the bytecode and feedback of the function, as V8 requires before a request.
      prepare: new Function("f", "%PrepareFunctionForOptimization(f)") as (f: unknown) => void,
      optimize: new Function("f", '%OptimizeFunctionOnNextCall(f, "concurrent")') as (
        f: unknown,
      ) => void,
    };
  } catch {
    return undefined; // SyntaxError: no --allow-natives-syntax
  }
})();

/** Whether this isolate can ask V8 for TurboFan (`--allow-natives-syntax` is on). */
export function turbofanRequestsAvailable(): boolean {
  return intrinsics !== undefined;
}

/**
 * Asks V8 for TurboFan code for each function, compiled on a V8 thread and installed at a
 * later call. Returns how many were asked for: 0 without `--allow-natives-syntax`.
 */
export const requestTurbofan: Optimizer = (functions) => {
  if (intrinsics === undefined) return 0;
  let asked = 0;
  for (const f of new Set(functions)) {
    try {
      intrinsics.prepare(f);
      intrinsics.optimize(f);
      asked++;
    } catch {
      // V8 refuses some functions (never optimisable, or without bytecode): leave them.
    }
  }
  return asked;
};
