/**
 * Least privilege: `dropPrivileges` (setgroups, setgid, setuid through FFI) on every thread,
 * `stf run --user`, and `stf run` as nobody with only CAP_NET_ADMIN and CAP_NET_RAW (setpriv),
 * each shown with `/proc/<pid>/status` and traffic through the tunnel.
 */
import assert from "node:assert/strict";
import $ from "dax";
import { labTest, labUnavailableReason, Netns, ROOT } from "./_lab.ts";
import { LabProcess, StfProcess } from "./_seed.ts";
import { A_IPV4, A_STF, B_IPV4, B_STF, buildTwoSites, pingReplies } from "./_two_sites.ts";

const PROBE = `${ROOT}tests/lab/_privileges_probe.ts`;

/** A field of `/proc/<pid>/status`, e.g. `Uid` → "65534 65534 65534 65534". */
function statusField(pid: number, name: string): string {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  return text.split("\n").find((l) => l.startsWith(`${name}:`))?.split(/\s+/).slice(1).join(
    " ",
  ) ?? "";
}

/** The distinct `Uid` lines of every thread of a process. */
function threadUids(pid: number): string[] {
  const uids = new Set<string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/status`);
    uids.add(text.split("\n").find((l) => l.startsWith("Uid:"))!.split(/\s+/).slice(1).join(" "));
  }
  return [...uids];
}

function nobodyUid(): number {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
    l.startsWith("nobody:")
  );
  return Number(line!.split(":")[2]);
}

labTest(
  "dropPrivileges() moves every thread to nobody, keeps the open raw socket and forbids a new one",
  async () => {
    await using ns = await Netns.create("stfpr");
    const text = await ns.run`${Deno.execPath()} run -A ${PROBE} nobody`.text();
    const report = JSON.parse(text.trim());
    const uid = nobodyUid();
    assert.equal(report.identity.uid, uid);
    assert.ok(report.threads > 1, "Deno runs several threads");
    // Every thread: real, effective, saved and filesystem uid and gid are nobody's.
    assert.equal(report.ids.length, 1, JSON.stringify(report.ids));
    assert.match(report.ids[0], new RegExp(`^(${uid} ){3}${uid}\\|`));
    assert.ok(report.linkFd > 2, "the raw socket opened as root stays open");
    assert.equal(report.reopen, "EPERM", "no new raw socket without CAP_NET_RAW");
  },
);

labTest("dropPrivileges() refuses root and unknown users", async () => {
  const { resolveUser } = await import("../../lib/netif/privileges.ts");
  assert.throws(() => resolveUser("root"), /it is root \(uid 0\)/);
  assert.throws(() => resolveUser(0), /it is root/);
  assert.throws(() => resolveUser("no-such-user-stf"), /no such user/);
  const passwd = "alice:x:1000:1000::/home/alice:/bin/sh\n";
  const group = "alice:x:1000:\nnetdev:x:108:alice,bob\nother:x:5:bob\n";
  assert.deepEqual(resolveUser("alice", { passwd, group }), {
    name: "alice",
    uid: 1000,
    gid: 1000,
    groups: [1000, 108],
  });
  assert.deepEqual(resolveUser(4242, { passwd, group }).groups, [4242]);
});

Deno.test({
  name: "stf run --user nobody drops root after opening its devices and still forwards",
  ignore: labUnavailableReason() !== undefined && Deno.env.get("STF_REQUIRE_LAB") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using sites = await buildTwoSites();
    const a = await StfProcess.start(sites.a, ["--ipv4", A_IPV4, "--user", "nobody"], "stf A");
    const b = await StfProcess.start(sites.b, ["--ipv4", B_IPV4], "stf B");
    try {
      const uid = nobodyUid();
      assert.equal(statusField(a.child.pid, "Uid"), `${uid} ${uid} ${uid} ${uid}`);
      assert.deepEqual(threadUids(a.child.pid), [`${uid} ${uid} ${uid} ${uid}`]);
      assert.equal(await pingReplies(sites.a, B_STF, 5), 5, "A forwards as nobody");
      assert.equal(await pingReplies(sites.b, A_STF, 5), 5);
      const final = await a.finish();
      assert.ok(final.egress.packets >= 5 && final.ingress.packets >= 5);
    } finally {
      await a.stop("SIGKILL", 2_000);
      await b.stop("SIGKILL", 2_000);
    }
  },
});

/**
 * A DENO_DIR that nobody can use: a copy of the npm cache, so Deno runs `--cached-only`
 * without reading root's home (as `up_down_test.ts` does).
 */
async function denoDirForNobody(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "stf_nobody_deno_" });
  const info = JSON.parse(await $`${Deno.execPath()} info --json`.text());
  const cp = await new Deno.Command("cp", { args: ["-a", info.npmCache, `${dir}/npm`] }).output();
  if (!cp.success) throw new Error(new TextDecoder().decode(cp.stderr));
  await $`chown -R nobody ${dir}`;
  await Deno.chmod(dir, 0o755);
  return dir;
}

for (const afterUp of [false, true]) {
  labTest(
    afterUp
      ? "stf run as nobody with only CAP_NET_ADMIN and CAP_NET_RAW attaches to the stf0 of stf up and forwards"
      : "stf run as nobody with only CAP_NET_ADMIN and CAP_NET_RAW (setpriv) creates stf0 and forwards",
    () => runWithCapabilities(afterUp),
  );
}

async function runWithCapabilities(afterUp: boolean): Promise<void> {
  await using sites = await buildTwoSites();
  if (afterUp) {
    // The systemd pattern: `stf up` as root (ExecStartPre=+), `stf run` with capabilities.
    await sites.a.run`${Deno.execPath()} run -A ${ROOT}main.ts up --ipv4 ${A_IPV4}`.quiet();
  }
  const denoDir = await denoDirForNobody();
  let a: LabProcess | undefined;
  let b: StfProcess | undefined;
  try {
    // Debian makes /dev/net/tun 0666; where it is 0600 (some containers), CAP_NET_ADMIN alone
    // cannot open it, so give this process (only) a 0666 node in a private mount namespace.
    const tunMode = Deno.statSync("/dev/net/tun").mode! & 0o777;
    const devTun = tunMode === 0o666 ? [] : [
      "unshare",
      "-m",
      "sh",
      "-c",
      `mknod -m 666 ${sites.dir}/tun c 10 200 && mount --bind ${sites.dir}/tun /dev/net/tun && exec "$@"`,
      "sh",
    ];
    a = new LabProcess(sites.a, [
      ...devTun,
      "setpriv",
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "--inh-caps=+net_admin,+net_raw",
      "--ambient-caps=+net_admin,+net_raw",
      "env",
      `DENO_DIR=${denoDir}`,
      `HOME=${denoDir}`,
      Deno.execPath(),
      "run",
      "-A",
      "--no-lock",
      "--cached-only",
      `${ROOT}main.ts`,
      "run",
      "--ipv4",
      A_IPV4,
      "--log-format",
      "json",
    ], { label: "stf A (nobody + caps)" });
    await a.waitFor(/"message":"Forwarding on /, { timeoutMs: 30_000 });
    b = await StfProcess.start(sites.b, ["--ipv4", B_IPV4], "stf B");
    // setpriv and env exec: the pid is Deno's.
    const pid = a.child.pid;
    const uid = nobodyUid();
    assert.equal(statusField(pid, "Uid"), `${uid} ${uid} ${uid} ${uid}`);
    // CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only.
    assert.equal(statusField(pid, "CapEff"), "0000000000003000");
    assert.equal(statusField(pid, "CapPrm"), "0000000000003000");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await pingReplies(sites.a, B_STF, 5), 5, "A forwards as nobody");
    assert.equal(await pingReplies(sites.b, A_STF, 5), 5);
    const { status } = await a.stop("SIGTERM", 5_000);
    assert.equal(status.code, 0, a.output());
    const final = JSON.parse(a.stdout.match(/^\{"event":"counters\.final".*$/m)![0]);
    assert.ok(final.egress.packets >= 5 && final.ingress.packets >= 5);
    console.log(
      `as nobody with CapEff 0x3000: ${final.egress.packets} sent, ` +
        `${final.ingress.packets} received`,
    );
    // The TUN it created is gone with it; the one stf up made stays.
    const links = await sites.a.run`ip -j link show`.json<{ ifname: string }[]>();
    assert.equal(links.some((l) => l.ifname === "stf0"), afterUp);
  } finally {
    await a?.stop("SIGKILL", 2_000);
    await b?.stop("SIGKILL", 2_000);
    await Deno.remove(denoDir, { recursive: true });
  }
}
