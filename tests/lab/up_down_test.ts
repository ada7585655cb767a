/**
 * `stf up` / `stf down` in network namespaces: the interface they make, read back with
 * iproute2 (`ip -j`), reconciliation, removal, and every refusal leaving the namespace as it
 * was.
 *
 * The commands run through `main.ts` (`stfArgv`), as a user runs them.
 */
import assert from "node:assert/strict";
import $ from "dax";
import { labTest, Netns, stfArgv } from "./_lab.ts";

/** The argv prefix that runs `stf` (see the module comment). */
const STF = stfArgv();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function stf(ns: Netns, ...args: string[]): Promise<Run> {
  const [program, ...rest] = ns.exec(...STF, ...args);
  const out = await new Deno.Command(program, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function stfOk(ns: Netns, ...args: string[]): Promise<Run> {
  const run = await stf(ns, ...args);
  assert.equal(run.code, 0, `stf ${args.join(" ")} failed:\n${run.stdout}${run.stderr}`);
  return run;
}

/** A namespace with 198.51.100.10/24 on a veth, as the issue describes. */
async function labNamespace(): Promise<Netns> {
  const ns = await Netns.create("stfud");
  try {
    await ns.run`ip link add veth0 type veth peer name veth1`;
    await ns.run`ip addr add 198.51.100.10/24 dev veth0`;
    await ns.run`ip link set veth0 up`;
    await ns.run`ip link set veth1 up`;
  } catch (e) {
    await ns[Symbol.asyncDispose]();
    throw e;
  }
  return ns;
}

/** Everything `up` could change, from iproute2. */
async function snapshot(ns: Netns): Promise<string> {
  return JSON.stringify({
    link: await ns.json`ip -j link`,
    addr: await ns.json`ip -j addr`,
    route4: await ns.json`ip -j route`,
    route6: await ns.json`ip -j -6 route show table all`,
  });
}

interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  ifalias?: string;
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface IpRoute {
  dst: string;
  dev: string;
  metric?: number;
  protocol?: string;
}

async function link(ns: Netns, name = "stf0"): Promise<IpLink> {
  const [l] = await ns.json<IpLink[]>`ip -j link show dev ${name}`;
  return l;
}

async function globalAddresses(ns: Netns, name = "stf0"): Promise<string[]> {
  const [a] = await ns.json<IpAddr[]>`ip -j addr show dev ${name}`;
  return a.addr_info.filter((i) => i.family === "inet6" && i.scope === "global")
    .map((i) => `${i.local}/${i.prefixlen}`);
}

async function routes(ns: Netns, name = "stf0"): Promise<string[]> {
  const all = await ns.json<IpRoute[]>`ip -j -6 route show dev ${name}`;
  return all.map((r) => `${r.dst} metric ${r.metric}`).sort();
}

async function routeGetDevice(ns: Netns, destination: string): Promise<string> {
  const [r] = await ns.json<IpRoute[]>`ip -j -6 route get ${destination}`;
  return r.dev;
}

labTest(
  "stf up --ipv4 198.51.100.10 makes stf0 with 2002:c633:640a::1/16, MTU 1480, up",
  async () => {
    await using ns = await labNamespace();
    const before = await snapshot(ns);
    const up = await stfOk(ns, "up", "--ipv4", "198.51.100.10");
    assert.match(up.stdout, /created persistent TUN device "stf0"/);
    const l = await link(ns);
    assert.equal(l.mtu, 1480);
    assert.ok(l.flags.includes("UP"), `flags ${l.flags}`);
    assert.ok(l.flags.includes("POINTOPOINT") && l.flags.includes("NOARP"), "a TUN device");
    assert.match(l.ifalias ?? "", /^stf /);
    assert.deepEqual(await globalAddresses(ns), ["2002:c633:640a::1/16"]);
    const r = await routes(ns);
    assert.ok(r.includes("2002::/16 metric 256"), `routes ${r}`);
    assert.ok(!r.some((x) => x.startsWith("default")), `no default route: ${r}`);
    assert.equal(await routeGetDevice(ns, "2002:cb00:7150::1"), "stf0");
    // The TUN is persistent and owned by no one; its flags say IFF_TUN | IFF_NO_PI (+ persist).
    const tunFlags = parseInt(await ns.run`cat /sys/class/net/stf0/tun_flags`.text(), 16);
    assert.equal(tunFlags & 0x1003, 0x1001);
    assert.equal(tunFlags & 0x0100, 0x0100, "multi-queue (IFF_MULTI_QUEUE), for run --queues");

    // A second identical `up` changes nothing and says so.
    const afterUp = await snapshot(ns);
    const again = await stfOk(ns, "up", "--ipv4", "198.51.100.10");
    assert.match(again.stdout, /already up.*nothing changed/);
    assert.equal(await snapshot(ns), afterUp);

    // `down` leaves the namespace exactly as before; a second `down` has nothing to do.
    const down = await stfOk(ns, "down", "--name", "stf0");
    assert.match(down.stdout, /deleted TUN device "stf0"/);
    assert.equal(await snapshot(ns), before);
    const downAgain = await stfOk(ns, "down", "--name", "stf0");
    assert.match(downAgain.stdout, /Nothing to do: there is no interface "stf0"/);
    assert.equal(await snapshot(ns), before);
  },
);

labTest("stf up --subnet 1 --interface-id ::5 --mtu 1280 sets 2002:c633:640a:1::5/16", async () => {
  await using ns = await labNamespace();
  await stfOk(
    ns,
    "up",
    "--ipv4",
    "198.51.100.10",
    "--subnet",
    "1",
    "--interface-id",
    "::5",
    "--mtu",
    "1280",
  );
  assert.deepEqual(await globalAddresses(ns), ["2002:c633:640a:1::5/16"]);
  assert.equal((await link(ns)).mtu, 1280);
});

labTest("stf up --relay 192.0.2.99 --default-route routes ::/0 through stf0", async () => {
  await using ns = await labNamespace();
  const before = await snapshot(ns);
  await stfOk(
    ns,
    "up",
    "--ipv4",
    "198.51.100.10",
    "--relay",
    "192.0.2.99",
    "--default-route",
    "--route",
    "2001:db8:1::/48",
  );
  assert.deepEqual(await routes(ns), [
    "2001:db8:1::/48 metric 1024",
    "2002::/16 metric 256",
    "default metric 1024",
  ]);
  assert.equal(await routeGetDevice(ns, "2001:db8:ffff::1"), "stf0");
  assert.equal(await routeGetDevice(ns, "2001:db8:1::1"), "stf0");
  await stfOk(ns, "down");
  assert.equal(await snapshot(ns), before);
});

labTest(
  "stf up with other parameters reconciles MTU, address and routes and says what",
  async () => {
    await using ns = await labNamespace();
    await stfOk(ns, "up", "--ipv4", "198.51.100.10", "--relay", "192.0.2.99", "--default-route");
    const ifindex = (await ns.json<{ ifindex: number }[]>`ip -j link show dev stf0`)[0].ifindex;
    const second = await stfOk(
      ns,
      "up",
      "--ipv4",
      "198.51.100.10",
      "--mtu",
      "1400",
      "--subnet",
      "2",
    );
    assert.match(second.stdout, /set MTU of "stf0" to 1400 \(was 1480\)/);
    assert.match(second.stdout, /deleted address 2002:c633:640a::1\/16/);
    assert.match(second.stdout, /added address 2002:c633:640a:2::1\/16/);
    assert.match(second.stdout, /deleted route ::\/0 from "stf0"/);
    assert.equal((await link(ns)).mtu, 1400);
    assert.deepEqual(await globalAddresses(ns), ["2002:c633:640a:2::1/16"]);
    assert.ok(!(await routes(ns)).some((r) => r.startsWith("default")));
    // The same device, reconfigured in place.
    assert.equal(
      (await ns.json<{ ifindex: number }[]>`ip -j link show dev stf0`)[0].ifindex,
      ifindex,
    );
  },
);

labTest("stf up --json reports name, ifindex, address, MTU, routes and what changed", async () => {
  await using ns = await labNamespace();
  const run = await stfOk(
    ns,
    "up",
    "--ipv4",
    "198.51.100.10",
    "--relay",
    "192.0.2.99",
    "--default-route",
    "--json",
  );
  const json = JSON.parse(run.stdout);
  const ifindex = (await ns.json<{ ifindex: number }[]>`ip -j link show dev stf0`)[0].ifindex;
  assert.equal(json.name, "stf0");
  assert.equal(json.ifindex, ifindex);
  assert.equal(json.address, "2002:c633:640a::1/16");
  assert.equal(json.mtu, 1480);
  assert.deepEqual(json.routes, ["2002::/16", "::/0"]);
  assert.ok(json.changed.length > 0);
  const again = JSON.parse((await stfOk(ns, "up", "--ipv4", "198.51.100.10", "--json")).stdout);
  assert.deepEqual(again.changed, [
    'set the alias of "stf0" to "stf 6to4 198.51.100.10"',
    'deleted route ::/0 from "stf0"',
  ]);
});

labTest(
  "stf up --dry-run changes nothing, and its ip commands build the same interface",
  async () => {
    await using ns = await labNamespace();
    const before = await snapshot(ns);
    const args = ["--ipv4", "198.51.100.10", "--relay", "192.0.2.99", "--default-route"];
    const dry = await stfOk(ns, "up", ...args, "--dry-run");
    assert.equal(await snapshot(ns), before);
    const commands = dry.stdout.trim().split("\n");
    assert.equal(commands[0], "ip tuntap add dev stf0 mode tun");

    // iproute2 as the oracle: run the printed commands in a twin namespace and compare.
    await using twin = await labNamespace();
    for (const command of commands) await twin.run`sh -c ${command}`;
    await stfOk(ns, "up", ...args);
    for (const n of [ns, twin]) assert.equal((await link(n)).mtu, 1480);
    assert.deepEqual(await globalAddresses(ns), await globalAddresses(twin));
    assert.deepEqual(await routes(ns), await routes(twin));
    assert.equal((await link(ns)).ifalias, (await link(twin)).ifalias);
    // And stf recognises the interface iproute2 made from its commands as already up.
    const again = await stfOk(twin, "up", ...args);
    assert.match(again.stdout, /already up/);
  },
);

/** Runs `stf up` expecting a refusal; checks exit code, message and an unchanged namespace. */
async function refused(
  ns: Netns,
  args: string[],
  expected: { code: number; message: RegExp },
): Promise<void> {
  const before = await snapshot(ns);
  const run = await stf(ns, ...args);
  assert.equal(run.code, expected.code, `exit code of stf ${args.join(" ")}: ${run.stderr}`);
  assert.match(run.stderr, expected.message);
  assert.equal(run.stdout, "");
  assert.equal(await snapshot(ns), before, "the namespace changed");
}

labTest("stf up refuses a name longer than 15 bytes with exit 2", async () => {
  await using ns = await labNamespace();
  await refused(ns, ["up", "--ipv4", "198.51.100.10", "--name", "stf-0123456789ab"], {
    code: 2,
    message: /"stf-0123456789ab".*16 bytes.*maximum is 15/,
  });
});

labTest("stf up refuses a private IPv4 (own-ipv4-not-global) with exit 2", async () => {
  await using ns = await labNamespace();
  await ns.run`ip addr add 10.0.0.1/24 dev veth1`;
  await refused(ns, ["up", "--ipv4", "10.0.0.1"], {
    code: 2,
    message: /Cannot use "10\.0\.0\.1" .*private.*RFC 1918/,
  });
});

labTest(
  "stf up refuses an IPv4 that is not on the host (own-ipv4-not-local) with exit 2",
  async () => {
    await using ns = await labNamespace();
    await refused(ns, ["up", "--ipv4", "203.0.113.5"], {
      code: 2,
      message:
        /Cannot use "203\.0\.113\.5" as this host's IPv4 address: it is not an address of this host/,
    });
  },
);

labTest("stf up refuses MTU 9000 (mtu-out-of-range) with exit 2", async () => {
  await using ns = await labNamespace();
  await refused(ns, ["up", "--ipv4", "198.51.100.10", "--mtu", "9000"], {
    code: 2,
    // The config layer (main.ts) or the plan (the driver) says it, in slightly different words.
    message: /9000: (maximum is 1480|expected 1280\.\.1480)/,
  });
});

labTest("stf up and down refuse an existing veth named stf0 with exit 1", async () => {
  await using ns = await labNamespace();
  await ns.run`ip link add stf0 type veth peer name stf0peer`;
  await refused(ns, ["up", "--ipv4", "198.51.100.10"], {
    code: 1,
    message: /Cannot configure "stf0": it is not a TUN device, so stf did not make it/,
  });
  await refused(ns, ["down"], {
    code: 1,
    message: /Cannot delete "stf0": it is not a TUN device, so stf did not make it/,
  });
});

labTest("stf up and down refuse a TUN device that another program made", async () => {
  await using ns = await labNamespace();
  await ns.run`ip tuntap add dev stf0 mode tun`;
  await refused(ns, ["up", "--ipv4", "198.51.100.10"], {
    code: 1,
    message: /Cannot configure "stf0": it is a TUN device without stf's alias/,
  });
  await refused(ns, ["down"], { code: 1, message: /Cannot delete "stf0"/ });
});

/**
 * A DENO_DIR that `nobody` can use: a fresh directory with a copy of the npm cache, so that
 * Deno runs offline (`--cached-only`) without reading root's home.
 */
async function denoDirForNobody(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "stf_nobody_deno_" });
  const info = JSON.parse(await $`${Deno.execPath()} info --json`.text());
  try {
    await Deno.stat(info.npmCache);
    // The system cp (dax's built-in cp has no -a).
    const cp = await new Deno.Command("cp", { args: ["-a", info.npmCache, `${dir}/npm`] }).output();
    if (!cp.success) throw new Error(new TextDecoder().decode(cp.stderr));
  } catch { /* no npm cache: the driver script needs none */ }
  await $`chown -R nobody ${dir}`;
  await Deno.chmod(dir, 0o755);
  return dir;
}

labTest(
  "stf up as an unprivileged user fails with exit 1 and says it needs CAP_NET_ADMIN",
  async () => {
    await using ns = await labNamespace();
    const denoDir = await denoDirForNobody();
    try {
      const before = await snapshot(ns);
      // setpriv drops to nobody with no capabilities; the repository must be readable by all.
      const argv = ns.exec(
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "env",
        `DENO_DIR=${denoDir}`,
        `HOME=${denoDir}`,
        Deno.execPath(),
        "run",
        "-A",
        "--no-lock",
        "--cached-only",
        STF[STF.length - 1],
        "up",
        "--ipv4",
        "198.51.100.10",
      );
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      // EPERM from TUNSETIFF where /dev/net/tun is 0666 (Debian), EACCES from open where 0600.
      assert.match(
        stderr,
        /Cannot create TUN device "stf0": (EPERM|EACCES) \(needs root or CAP_NET_ADMIN\)/,
      );
      assert.equal(await snapshot(ns), before);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  },
);
