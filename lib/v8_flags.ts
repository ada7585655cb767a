/**
 * The V8 flags stf runs with, wherever it is started: deno.json's `stf` and `install` tasks,
 * `deno compile` (`scripts/compile.ts`), the lab tests and the benchmark. A unit test keeps
 * deno.json in step with this list.
 *
 * `--max-semi-space-size=1`: V8's young generation keeps semi-spaces of 1 MiB instead of
 * growing them to 8–16 MiB in each of stf's three isolates (the main thread and the two
 * data-plane Workers). The data plane allocates nothing per packet and the main thread little
 * (a counter snapshot a second), so a larger young generation only holds memory: measured
 * under iperf3 load, the peak RSS of an `stf run` process drops from about 121 MB to 114 MB.
 *
 * `--allow-natives-syntax`: lets a data-plane Worker ask V8 for TurboFan code for the functions a
 * wake-up runs, once traffic has given them type feedback (`lib/dataplane/tier.ts`). At ordinary
 * loads V8 leaves them at Maglev, where every call into libc goes through the runtime's slow path.
 * Measured with `bench/lone.ts` (6 interleaved rounds of 100 pings, medians), the CPU of a lone
 * ping through a pair fell from 482 to 453 µs at 30 ms apart, from 463 to 378 µs at 10 ms and from
 * 195 to 166 µs at 1 ms; the echo reply's one-way hop was about a quarter shorter. The flag
 * only lets code parsed in this process use V8's `%` intrinsics; stf parses no code it is sent,
 * and its only use of them is `tier.ts`.
 *
 * No flag here closes the inspector Deno opens on SIGUSR1: neither Deno 2.9 nor V8 has one, so
 * stf ignores SIGUSR1 itself (`lib/inspector_guard.ts`), wherever it is started.
 *
 * @module
 */

/** V8 flags for every stf process. */
export const STF_V8_FLAGS: readonly string[] = Object.freeze([
  "--max-semi-space-size=1",
  "--allow-natives-syntax",
]);

/** The same flags as one `deno run`/`deno install`/`deno compile` argument. */
export const STF_V8_FLAGS_ARGUMENT = `--v8-flags=${STF_V8_FLAGS.join(",")}`;
