/**
 * The user's prefix hook (`--on-prefix-change PATH`, key `on-prefix-change`): an executable
 * that `stf run` starts after it followed a new own IPv4 address, so that the rest of the site
 * learns the new prefix (radvd, a DHCPv6 server, a firewall). It gets the old and the new site
 * prefix as arguments (as `stf prefix` prints them) and the environment `STF_OLD_PREFIX`,
 * `STF_NEW_PREFIX`, `STF_OLD_IPV4`, `STF_NEW_IPV4`, `STF_INTERFACE`. Its output goes to stf's
 * log line by line; it is killed after a timeout. A failure is reported to the caller, which
 * logs and counts it: forwarding never depends on the hook.
 *
 * @module
 */

/** What changed, for the hook. */
export interface PrefixChange {
  /** The site prefix before (`2002:c633:640a::/48`, or the delegated 6rd prefix). */
  readonly oldPrefix: string;
  /** The site prefix after. */
  readonly newPrefix: string;
  /** The own IPv4 address before. */
  readonly oldIpv4: string;
  /** The own IPv4 address after. */
  readonly newIpv4: string;
  /** The stf interface's name. */
  readonly interface: string;
}

/** How one run of the hook ended. */
export interface PrefixHookResult {
  /** Whether it exited with status 0 in time. */
  readonly ok: boolean;
  /** Its exit status, when it exited. */
  readonly code?: number;
  /** Whether it was killed for taking longer than the timeout. */
  readonly timedOut: boolean;
  /** Why it failed, in one line (absent when `ok`). */
  readonly error?: string;
}

/** Options of {@link runPrefixHook}. */
export interface PrefixHookOptions {
  /** Kill it after this many milliseconds (default {@link PREFIX_HOOK_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Receives each line it writes, without the line feed. */
  readonly onOutput?: (line: string, stream: "stdout" | "stderr") => void;
}

/** How long the hook may run, ms. */
export const PREFIX_HOOK_TIMEOUT_MS = 30_000;

/** How long to wait for the hook's output after it exited, ms. */
const OUTPUT_GRACE_MS = 1000;

/**
 * The environment the hook gets besides stf's own.
 *
 * @param change what changed
 */
export function prefixHookEnv(change: PrefixChange): Record<string, string> {
  return {
    STF_OLD_PREFIX: change.oldPrefix,
    STF_NEW_PREFIX: change.newPrefix,
    STF_OLD_IPV4: change.oldIpv4,
    STF_NEW_IPV4: change.newIpv4,
    STF_INTERFACE: change.interface,
  };
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  name: "stdout" | "stderr",
  onOutput: PrefixHookOptions["onOutput"],
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) onOutput?.(line, name);
  }
  if (rest !== "") onOutput?.(rest, name);
}

/**
 * Runs the hook once and waits for it: `PATH OLD_PREFIX NEW_PREFIX` with the `STF_*`
 * environment. Never throws: a hook that cannot start, fails or hangs is a result.
 *
 * @param path the executable
 * @param change what changed
 * @param options the timeout and where its output goes
 */
export async function runPrefixHook(
  path: string,
  change: PrefixChange,
  options: PrefixHookOptions = {},
): Promise<PrefixHookResult> {
  const timeoutMs = options.timeoutMs ?? PREFIX_HOOK_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const child = new Deno.Command(path, {
      args: [change.oldPrefix, change.newPrefix],
      env: prefixHookEnv(change),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    const output = Promise.all([
      forwardLines(child.stdout, "stdout", options.onOutput),
      forwardLines(child.stderr, "stderr", options.onOutput),
    ]).catch(() => {});
    const status = await child.status;
    // A daemon the hook (re)started may hold its output open for ever: give the last lines a
    // moment, then stop waiting for them (they are still logged if they come).
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      output,
      new Promise((resolve) => (grace = setTimeout(resolve, OUTPUT_GRACE_MS))),
    ]);
    clearTimeout(grace);
    if (timedOut) {
      return { ok: false, timedOut, error: `killed after ${timeoutMs} ms (timeout)` };
    }
    if (status.success) return { ok: true, code: status.code, timedOut };
    const error = status.signal === null
      ? `exited with status ${status.code}`
      : `killed by ${status.signal}`;
    return { ok: false, code: status.code, timedOut, error };
  } catch (e) {
    return { ok: false, timedOut, error: `cannot run it: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
