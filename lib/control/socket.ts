/**
 * The control socket of `stf run`: a Unix stream socket that answers one request per
 * connection. Its default path is `/run/stf/<name>.sock` in the host's (initial) network
 * namespace and `/run/stf/netns-<inode>/<name>.sock` in any other, `<inode>` being the
 * namespace's (`readlink /proc/self/ns/net`): `/run` is shared by every namespace of the host,
 * and two forwarders with the same interface name in two namespaces must not collide. The client writes `status` and a line feed; the server
 * writes one JSON document ({@link ForwarderStatus}) and a line feed, then closes. Any other
 * request gets `{"error": "…"}`. Nothing can be changed through it, so it is left readable and
 * writable by every local user (mode 0666) for `stf status` without root.
 *
 * A socket file left by a forwarder that died is stale: connecting to it is refused, so it is
 * removed and listened on again. A socket that answers belongs to a running forwarder and is
 * never taken over.
 *
 * @module
 */
import type { CounterSnapshot, QueueCounters } from "../dataplane/counters.ts";
import { OperationError } from "../errors.ts";

/** The directory of control sockets (systemd's `RuntimeDirectory=stf`). */
export const CONTROL_DIRECTORY = "/run/stf";

/** The request `stf status` sends. */
export const STATUS_REQUEST = "status";

/** What a running forwarder says about itself (`stf status --json`'s `forwarder`). */
export interface ForwarderStatus {
  /** The interface name. */
  readonly name: string;
  /** The process ID of `stf run`. */
  readonly pid: number;
  /** The stf version it runs. */
  readonly version: string;
  /** The mode: `router`, `return-path` or `relay`. */
  readonly mode: string;
  /** The own IPv4 address. */
  readonly ipv4: string;
  /** The interface's IPv6 address, with its length (`2002:c633:640a::1/16`). */
  readonly address: string;
  /** The site prefix (`2002:c633:640a::/48`, or the delegated 6rd prefix). */
  readonly prefix: string;
  /** Why egress is paused (drop reason `own-ipv4-unavailable`), or `null` while forwarding. */
  readonly ownIpv4Unavailable: string | null;
  /** Changes of the own IPv4 address followed since the start. */
  readonly addressChanges: number;
  /** Runs of the on-prefix-change hook that failed. */
  readonly prefixHookFailures: number;
  /** When it started forwarding (ISO 8601, UTC). */
  readonly startedAt: string;
  /** The counters now. */
  readonly counters: CounterSnapshot;
  /** Packets forwarded by each queue's Workers (`--queues`; one entry otherwise). */
  readonly queues: readonly QueueCounters[];
  /** The relay carrying native IPv6 now, or `null` (none configured, or not a router). */
  readonly relay?: string | null;
  /** The relays in order of preference, as the probes see them (empty when none). */
  readonly relays?: readonly RelayStatus[];
}

/** One relay in `stf status` (`forwarder.relays`). */
export interface RelayStatus {
  /** The relay's IPv4 address. */
  readonly address: string;
  /** What the probes say. */
  readonly state: "up" | "down" | "unknown";
  /** Whether it carries the traffic now. */
  readonly active: boolean;
  /** The RTT of its last answered probe in milliseconds, or `null` before any. */
  readonly rttMs: number | null;
  /** Probes lost since its last answer. */
  readonly lostInARow: number;
}

/** A listening control socket. */
export interface ControlServer {
  /** The socket's path. */
  readonly path: string;
  /** Stops listening, waits for open connections and removes the socket file. */
  close(): Promise<void>;
}

/** Options of {@link queryControl}. */
export interface QueryControlOptions {
  /** Give up after this many milliseconds (default 2000). */
  readonly timeoutMs?: number;
}

const MAX_REQUEST = 256;
const REQUEST_TIMEOUT_MS = 2000;
/**
 * Connections answered at once. Any local user may connect, and each connection holds a file
 * descriptor of the forwarder for up to {@link REQUEST_TIMEOUT_MS}: past this many, a new one
 * is closed unanswered, so that no user can exhaust the forwarder's descriptors.
 */
export const MAX_CONNECTIONS = 16;

/**
 * The control socket path of an interface.
 *
 * @param name the interface name
 * @param directory the directory (default {@link CONTROL_DIRECTORY})
 */
export function controlSocketPath(name: string, directory: string = CONTROL_DIRECTORY): string {
  return `${directory.replace(/\/+$/, "")}/${name}.sock`;
}

/**
 * The inode of the initial network namespace where the kernel fixes it (`PROC_NET_INIT_INO`,
 * recent kernels); older ones number it at boot.
 */
export const INITIAL_NETNS_INODE = 0xeffffff9;

/** The inode of a `/proc/<pid>/ns/net` link (`net:[4026532245]`), or undefined when unreadable. */
function netnsInode(link: string): number | undefined {
  try {
    const match = /^net:\[(\d+)\]$/.exec(Deno.readLinkSync(link));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * The control socket directories to look in, in order, for network namespace `own` (an
 * inode) given the initial one's inode `initial` (pid 1's; undefined when it cannot be read,
 * as without root): `directory` itself in the initial namespace, `directory/netns-<own>` in
 * any other. When `initial` is unknown and `own` is not the fixed initial inode, both, the
 * namespace's first (a process without root on an older kernel cannot tell).
 *
 * @param directory the base directory
 * @param own the inode of this process's network namespace; undefined: unknown (the base)
 * @param initial the inode of the initial network namespace, when known
 */
export function controlDirectories(
  directory: string,
  own: number | undefined,
  initial: number | undefined,
): string[] {
  const base = directory.replace(/\/+$/, "");
  if (own === undefined || own === initial) return [base];
  if (initial === undefined && own === INITIAL_NETNS_INODE) return [base];
  const namespaced = `${base}/netns-${own}`;
  return initial === undefined ? [namespaced, base] : [namespaced];
}

/**
 * The default control socket paths of an interface in this process's network namespace, in
 * the order to try them (one, unless the namespace cannot be told apart without root:
 * {@link controlDirectories}). `stf run` listens on the first; `stf status` asks each.
 *
 * @param name the interface name
 */
export function defaultControlSocketPaths(name: string): string[] {
  const own = netnsInode("/proc/self/ns/net");
  const initial = netnsInode("/proc/1/ns/net");
  return controlDirectories(CONTROL_DIRECTORY, own, initial).map((d) => controlSocketPath(name, d));
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/**
 * Refuses a directory in which another user could replace the socket file between `bind` and
 * `chmod` (writable by others without the sticky bit): `chmod` follows a symlink, so root
 * would make the link's target writable by everyone.
 */
function checkDirectory(path: string): void {
  const directory = dirname(path);
  const mode = Deno.statSync(directory).mode ?? 0;
  if ((mode & 0o002) !== 0 && (mode & 0o1000) === 0) {
    throw new OperationError(
      `Cannot listen on the control socket "${path}": its directory "${directory}" is writable ` +
        `by every user without the sticky bit (mode ${(mode & 0o7777).toString(8)}); choose a ` +
        `directory only root can write, e.g. the default /run/stf`,
    );
  }
}

/** Removes a stale socket at `path`; refuses one that answers or a file that is no socket. */
async function removeStale(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isSocket !== true) {
    throw new OperationError(
      `Cannot listen on the control socket "${path}": the file exists and is not a socket`,
    );
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.NotFound) {
      try {
        Deno.removeSync(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      return;
    }
    throw error;
  }
  throw new OperationError(
    `Cannot listen on the control socket "${path}": another stf run answers on it (stop it first)`,
  );
}

async function readRequest(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(MAX_REQUEST);
  let length = 0;
  while (length < MAX_REQUEST) {
    const n = await conn.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
    if (buffer.subarray(0, length).includes(0x0a)) break;
  }
  const text = new TextDecoder().decode(buffer.subarray(0, length));
  const end = text.indexOf("\n");
  return (end < 0 ? text : text.slice(0, end)).trim();
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

async function answer(conn: Deno.Conn, source: () => ForwarderStatus): Promise<void> {
  // A client that says nothing does not hold the connection open for ever.
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, REQUEST_TIMEOUT_MS);
  try {
    const request = await readRequest(conn);
    const reply = request === STATUS_REQUEST
      ? source()
      : { error: `Unknown request "${request}": expected "${STATUS_REQUEST}"` };
    await writeAll(conn, new TextEncoder().encode(JSON.stringify(reply) + "\n"));
  } catch {
    // The client went away or timed out: nothing to answer.
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Listens on the control socket and answers `status` with `source()` until closed. Creates the
 * directory when missing; replaces a stale socket.
 *
 * @param path the socket path ({@link defaultControlSocketPaths})
 * @param source called for each `status` request
 * @throws {OperationError} when another forwarder answers on `path`, or a non-socket is there
 */
export async function serveControl(
  path: string,
  source: () => ForwarderStatus,
): Promise<ControlServer> {
  Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  checkDirectory(path);
  await removeStale(path);
  let listener: Deno.UnixListener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new OperationError(`Cannot listen on the control socket "${path}": ${reason}`, {
      cause: error,
    });
  }
  Deno.chmodSync(path, 0o666);
  const open = new Set<Promise<void>>();
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        if (open.size >= MAX_CONNECTIONS) {
          conn.close();
          continue;
        }
        const done: Promise<void> = answer(conn, source).finally(() => open.delete(done));
        open.add(done);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  let closed: Promise<void> | undefined;
  return {
    path,
    close() {
      closed ??= (async () => {
        listener.close();
        await loop;
        await Promise.allSettled([...open]);
        try {
          Deno.removeSync(path);
        } catch (e) {
          // After `--user` dropped root the directory may not be ours any more: the file
          // stays, and the next start replaces it as a stale socket.
          if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) {
            throw e;
          }
        }
      })();
      return closed;
    },
  };
}

/**
 * Asks the forwarder behind a control socket for its status.
 *
 * @param path the socket path
 * @param options the timeout
 * @returns the status, or `undefined` when no forwarder listens there (no socket, or stale)
 * @throws {OperationError} when the socket cannot be used (permissions), does not answer in
 *   time, or answers something else than a status
 */
export async function queryControl(
  path: string,
  options: QueryControlOptions = {},
): Promise<ForwarderStatus | undefined> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
      return undefined;
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new OperationError(`Cannot connect to the control socket "${path}": ${reason}`, {
      cause: error,
    });
  }
  const timeoutMs = options.timeoutMs ?? 2000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  }, timeoutMs);
  let text: string;
  try {
    await writeAll(conn, new TextEncoder().encode(`${STATUS_REQUEST}\n`));
    text = await new Response(conn.readable).text();
  } catch (error) {
    if (timedOut) {
      throw new OperationError(
        `Cannot read the status from "${path}": no answer within ${timeoutMs} ms`,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new OperationError(`Cannot read the status from "${path}": ${reason}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    throw new OperationError(
      `Cannot read the status from "${path}": no answer within ${timeoutMs} ms`,
    );
  }
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new OperationError(`Cannot read the status from "${path}": the answer is not JSON`);
  }
  if (typeof reply !== "object" || reply === null || !("counters" in reply)) {
    const error = (reply as { error?: unknown } | null)?.error;
    throw new OperationError(
      `Cannot read the status from "${path}": ${
        typeof error === "string" ? error : "the answer is not a status"
      }`,
    );
  }
  return reply as ForwarderStatus;
}
