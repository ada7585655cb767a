import assert from "node:assert/strict";
import { Counters } from "../../../lib/dataplane/counters.ts";
import {
  controlDirectories,
  controlSocketPath,
  defaultControlSocketPaths,
  type ForwarderStatus,
  INITIAL_NETNS_INODE,
  MAX_CONNECTIONS,
  queryControl,
  serveControl,
} from "../../../lib/control/mod.ts";

function status(): ForwarderStatus {
  const counters = new Counters();
  counters.values[0] = 42;
  return {
    name: "stf0",
    pid: Deno.pid,
    version: "0.1.0",
    mode: "router",
    ipv4: "198.51.100.10",
    address: "2002:c633:640a::1/16",
    prefix: "2002:c633:640a::/48",
    ownIpv4Unavailable: null,
    addressChanges: 0,
    prefixHookFailures: 0,
    startedAt: "2026-11-26T15:00:00.000Z",
    counters: counters.snapshot(),
    queues: counters.perQueue(),
  };
}

async function withDirectory(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "stf-control-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Leaves a stale socket at `path`: python binds it and exits without unlinking it. */
function leaveStaleSocket(path: string): void {
  const out = new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path],
  }).outputSync();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(Deno.lstatSync(path).isSocket, true);
}

async function rawRequest(path: string, request: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode(request));
  return await new Response(conn.readable).text();
}

Deno.test("controlSocketPath() puts <name>.sock in /run/stf or the given directory", () => {
  assert.equal(controlSocketPath("stf0"), "/run/stf/stf0.sock");
  assert.equal(controlSocketPath("stf1", "/tmp/x/"), "/tmp/x/stf1.sock");
});

Deno.test("controlDirectories() keeps /run/stf in the initial network namespace and adds netns-<inode> in any other", () => {
  assert.deepEqual(controlDirectories("/run/stf", 4026531840, 4026531840), ["/run/stf"]);
  assert.deepEqual(controlDirectories("/run/stf/", 4026532245, 4026531840), [
    "/run/stf/netns-4026532245",
  ]);
  // /proc unreadable: the base.
  assert.deepEqual(controlDirectories("/run/stf", undefined, undefined), ["/run/stf"]);
});

Deno.test("controlDirectories() without pid 1's namespace (no root) trusts the fixed initial inode, else tries both", () => {
  assert.deepEqual(controlDirectories("/run/stf", INITIAL_NETNS_INODE, undefined), ["/run/stf"]);
  assert.deepEqual(controlDirectories("/run/stf", 4026532245, undefined), [
    "/run/stf/netns-4026532245",
    "/run/stf",
  ]);
});

Deno.test("defaultControlSocketPaths() follows the namespace this process is in", () => {
  const inode = (link: string) => {
    try {
      return Number(/\d+/.exec(Deno.readLinkSync(link))![0]);
    } catch {
      return undefined; // pid 1's link needs ptrace rights, which a container may not give
    }
  };
  const own = inode("/proc/self/ns/net")!;
  const initial = inode("/proc/1/ns/net");
  const inInitial = initial === undefined ? own === INITIAL_NETNS_INODE : own === initial;
  assert.equal(
    defaultControlSocketPaths("stf0")[0],
    inInitial ? "/run/stf/stf0.sock" : `/run/stf/netns-${own}/stf0.sock`,
  );
});

Deno.test("serveControl() answers status with the JSON document; queryControl() reads it", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", `${dir}/run`);
    let asked = 0;
    const server = await serveControl(path, () => {
      asked++;
      return status();
    });
    try {
      assert.equal(Deno.lstatSync(path).isSocket, true);
      assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o666);
      const reply = await queryControl(path);
      assert.deepEqual(reply, status());
      assert.equal(reply?.counters.egress.packets, 42);
      assert.equal(reply?.counters.ingress.dropped["inner-src-spoofed"], 0);
      assert.equal(asked, 1);
      // The wire format: one line of JSON.
      const raw = await rawRequest(path, "status\n");
      assert.ok(raw.endsWith("}\n") && raw.indexOf("\n") === raw.length - 1);
      assert.equal(JSON.parse(raw).pid, Deno.pid);
    } finally {
      await server.close();
    }
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
  });
});

Deno.test("serveControl() answers an unknown request with an error and changes nothing", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", dir);
    const server = await serveControl(path, status);
    try {
      const reply = JSON.parse(await rawRequest(path, "stop\n"));
      assert.match(reply.error, /Unknown request "stop"/);
    } finally {
      await server.close();
    }
  });
});

Deno.test("queryControl() returns undefined when no forwarder listens (no socket, stale socket)", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", dir);
    assert.equal(await queryControl(path), undefined);
    leaveStaleSocket(path);
    assert.equal(await queryControl(path), undefined);
  });
});

Deno.test("serveControl() replaces a stale socket file", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", dir);
    leaveStaleSocket(path);
    const server = await serveControl(path, status);
    try {
      assert.equal((await queryControl(path))?.name, "stf0");
    } finally {
      await server.close();
    }
  });
});

Deno.test("serveControl() refuses a socket another forwarder answers on, and a plain file", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", dir);
    const first = await serveControl(path, status);
    try {
      await assert.rejects(
        () => serveControl(path, status),
        (e: Error) => e.name === "OperationError" && /another stf run answers/.test(e.message),
      );
      assert.equal((await queryControl(path))?.pid, Deno.pid);
    } finally {
      await first.close();
    }
    const file = `${dir}/plain.sock`;
    Deno.writeTextFileSync(file, "");
    await assert.rejects(
      () => serveControl(file, status),
      (e: Error) => e.name === "OperationError" && /is not a socket/.test(e.message),
    );
  });
});

Deno.test("queryControl() gives up on a socket that never answers", async () => {
  await withDirectory(async (dir) => {
    const path = controlSocketPath("stf0", dir);
    const listener = Deno.listen({ transport: "unix", path });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })().catch(() => {});
    try {
      await assert.rejects(
        () => queryControl(path, { timeoutMs: 100 }),
        (e: Error) => e.name === "OperationError" && /no answer within 100 ms/.test(e.message),
      );
    } finally {
      listener.close();
      await accepting;
      for (const conn of accepted) conn.close();
    }
  });
});

Deno.test("serveControl() refuses a directory others may write without the sticky bit", async () => {
  await withDirectory(async (dir) => {
    Deno.chmodSync(dir, 0o777);
    await assert.rejects(
      () => serveControl(`${dir}/stf0.sock`, status),
      (e: Error) =>
        e.name === "OperationError" &&
        /writable by every user without the sticky bit/.test(e.message),
    );
    Deno.chmodSync(dir, 0o1777);
    const server = await serveControl(`${dir}/stf0.sock`, status);
    await server.close();
  });
});

Deno.test("serveControl() answers while more than MAX_CONNECTIONS idle clients hold on", async () => {
  await withDirectory(async (dir) => {
    const path = `${dir}/stf0.sock`;
    const server = await serveControl(path, status);
    const idle: Deno.Conn[] = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS + 4; i++) {
        idle.push(await Deno.connect({ transport: "unix", path }));
      }
      // The extra idle connections were closed unanswered: reading gets end of file at once,
      // not when the request timeout (2 s) would close an answered one.
      const last = idle[idle.length - 1];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const early = await Promise.race([
        last.read(new Uint8Array(16)),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 1_500)),
      ]);
      clearTimeout(timer);
      assert.equal(early, null);
      // Once the idle ones are gone, a real request is answered again.
      for (const conn of idle.splice(0)) conn.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await queryControl(path))?.pid, Deno.pid);
    } finally {
      for (const conn of idle) conn.close();
      await server.close();
    }
  });
});
