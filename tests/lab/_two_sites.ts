/**
 * Two 6to4 sites on one IPv4 link, for the fault, privilege and soak tests: namespace A
 * (198.51.100.1, 2002:c633:6401::/48) and B (198.51.100.2, 2002:c633:6402::/48), each able to
 * run `stf run`; traffic between the stf0 addresses goes through both tunnels.
 *
 * @module
 */
import { Netns, vethPair } from "./_lab.ts";
import assert from "node:assert/strict";
import { LabProcess, StfProcess, waitUntil } from "./_seed.ts";

/** Site A's IPv4. */
export const A_IPV4 = "198.51.100.1";
/** Site B's IPv4. */
export const B_IPV4 = "198.51.100.2";
/** Site A's stf0 address. */
export const A_STF = "2002:c633:6401::1";
/** Site B's stf0 address. */
export const B_STF = "2002:c633:6402::1";

/** The two namespaces and a scratch directory. */
export interface TwoSites extends AsyncDisposable {
  readonly a: Netns;
  readonly b: Netns;
  readonly dir: string;
}

/** Builds the two sites (no stf started). */
export async function buildTwoSites(): Promise<TwoSites> {
  const a = await Netns.create("stffa");
  const b = await Netns.create("stffb");
  const dir = await Deno.makeTempDir({ prefix: "stf_faults_" });
  await Deno.chmod(dir, 0o755);
  const sites: TwoSites = {
    a,
    b,
    dir,
    async [Symbol.asyncDispose]() {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    await vethPair(a, "eth0", b, "eth0");
    await a.run`ip addr add ${A_IPV4}/24 dev eth0`;
    await b.run`ip addr add ${B_IPV4}/24 dev eth0`;
    return sites;
  } catch (e) {
    await sites[Symbol.asyncDispose]();
    throw e;
  }
}

/** Starts stf in both sites (extra arguments per site). */
export async function startBoth(
  sites: TwoSites,
  extra: { a?: readonly string[]; b?: readonly string[] } = {},
): Promise<[StfProcess, StfProcess]> {
  const a = await StfProcess.start(sites.a, ["--ipv4", A_IPV4, ...(extra.a ?? [])], "stf A");
  try {
    const b = await StfProcess.start(sites.b, ["--ipv4", B_IPV4, ...(extra.b ?? [])], "stf B");
    return [a, b];
  } catch (e) {
    await a.stop("SIGKILL", 2_000);
    throw e;
  }
}

/** Pings `target` from `ns` `count` times (interval 0.2 s, 1 s wait); returns the replies. */
export async function pingReplies(ns: Netns, target: string, count = 5): Promise<number> {
  const text = await ns.run`ping -n -c ${count} -i 0.2 -W 1 ${target}`.noThrow().quiet().text();
  const m = /(\d+) received/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** Starts a flood ping (`ping -f`) from `ns`; stop it with `stop("SIGINT")`. */
export function floodPing(ns: Netns, target: string, seconds: number): LabProcess {
  return new LabProcess(ns, ["ping", "-n", "-q", "-f", "-w", `${seconds}`, target], {
    label: "ping -f",
  });
}

/** Writes `bytes` random bytes to a file in the sites' directory; returns its path. */
export async function randomFile(sites: TwoSites, bytes: number): Promise<string> {
  const path = `${sites.dir}/source`;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(path, data);
  return path;
}

/** The SHA-256 of a file, in hex. */
export async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const TRANSFER_PORT = 5001;

/**
 * Sends a file over TCP from A to a server (default: B's stf0 address), socat on both ends, 30 s
 * at most; returns the path of the server's copy.
 */
export async function transferFromA(
  sites: TwoSites,
  source: string,
  name: string,
  server: { readonly ns: Netns; readonly address: string } = { ns: sites.b, address: B_STF },
): Promise<string> {
  const target = `${sites.dir}/${name}`;
  await using listener = new LabProcess(server.ns, [
    "socat",
    "-u",
    `TCP6-LISTEN:${TRANSFER_PORT},reuseaddr`,
    `OPEN:${target},creat,trunc`,
  ], { label: "socat server" });
  await waitUntil(
    async () => (await server.ns.run`ss -Hltn sport = :${TRANSFER_PORT}`.text()).trim() !== "",
    "the socat server did not listen",
  );
  const sent = await sites.a
    .run`timeout 30 socat -u OPEN:${source} TCP6:[${server.address}]:${TRANSFER_PORT}`
    .noThrow().quiet();
  assert.equal(sent.code, 0, `socat client exit code ${sent.code} (124: the transfer stalled)`);
  // The server ends by itself once it has written what the connection brought.
  await waitUntil(() => listener.status !== undefined, "the socat server did not finish");
  assert.equal(listener.status?.code, 0, listener.output());
  return target;
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
