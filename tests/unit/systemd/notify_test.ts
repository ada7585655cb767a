import assert from "node:assert/strict";
import { encodeSockaddrUn, SOCKADDR_UN } from "../../../ffi/structs_unix.ts";
import { abstractName, Receiver } from "./_receiver.ts";
import { notify, startWatchdog, watchdogIntervalUsec } from "../../../lib/systemd/mod.ts";

function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = Deno.env.get(k);
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
  try {
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("encodeSockaddrUn() matches struct sockaddr_un: a NUL-terminated path or @abstract", () => {
  assert.equal(SOCKADDR_UN.SIZE, 110); // sizeof, checked with gcc against glibc
  const path = encodeSockaddrUn("/run/systemd/notify");
  assert.deepEqual([...path.bytes.subarray(0, 2)], [1, 0]);
  assert.equal(new TextDecoder().decode(path.bytes.subarray(2, 21)), "/run/systemd/notify");
  assert.equal(path.bytes[21], 0);
  assert.equal(path.length, 2 + 19 + 1);
  const abstract = encodeSockaddrUn("@sd");
  assert.deepEqual([...abstract.bytes.subarray(0, 6)], [1, 0, 0, 0x73, 0x64, 0]);
  assert.equal(abstract.length, 2 + 1 + 2);
  assert.throws(() => encodeSockaddrUn("/" + "x".repeat(107)), RangeError);
  assert.throws(() => encodeSockaddrUn("@"), RangeError);
});

Deno.test("notify() is a no-op without NOTIFY_SOCKET", () => {
  withEnv({ NOTIFY_SOCKET: undefined }, () => {
    assert.equal(notify("READY=1"), false);
  });
});

Deno.test("notify() sends READY=1 and STATUS= in one datagram to a socket path", () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-notify-" });
  try {
    const path = `${dir}/notify`;
    using receiver = new Receiver(path);
    assert.equal(notify("READY=1\nSTATUS=Forwarding on stf0", { socket: path }), true);
    assert.equal(notify("STOPPING=1", { socket: path }), true);
    assert.deepEqual(receiver.drain(), ["READY=1\nSTATUS=Forwarding on stf0", "STOPPING=1"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("notify() reads NOTIFY_SOCKET and reaches the abstract namespace for @name", () => {
  const name = abstractName();
  using receiver = new Receiver(name);
  withEnv({ NOTIFY_SOCKET: name }, () => {
    assert.equal(notify("READY=1"), true);
  });
  assert.deepEqual(receiver.drain(), ["READY=1"]);
});

Deno.test("notify() reaches an abstract socket that python bound (independent address encoding)", async () => {
  const name = abstractName();
  const python = new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      [
        "import socket, sys",
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
        "s.bind('\\0' + sys.argv[1])",
        "s.settimeout(5)",
        "print('bound', flush=True)",
        "print(repr(s.recv(4096).decode()), flush=True)",
      ].join("\n"),
      name.slice(1),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = python.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("bound\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  notify("STATUS=hello from stf", { socket: name });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const status = await python.status;
  await python.stderr.cancel();
  assert.ok(status.success, text);
  assert.equal(text, "bound\n'STATUS=hello from stf'\n");
});

Deno.test("notify() throws a SyscallError naming the socket when nothing is there", () => {
  assert.throws(
    () => notify("READY=1", { socket: "/nonexistent/stf-notify" }),
    (e: Error) =>
      e.name === "SyscallError" && e.message.includes('"/nonexistent/stf-notify"') &&
      e.message.includes("ENOENT"),
  );
  assert.throws(() => notify("READY=1", { socket: "relative/path" }), RangeError);
});

Deno.test("watchdogIntervalUsec() reads WATCHDOG_USEC, only for this process", () => {
  withEnv({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: undefined }, () => {
    assert.equal(watchdogIntervalUsec(), 30_000_000);
  });
  withEnv({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: String(Deno.pid) }, () => {
    assert.equal(watchdogIntervalUsec(), 30_000_000);
  });
  withEnv({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "1" }, () => {
    assert.equal(watchdogIntervalUsec(), undefined);
  });
  withEnv({ WATCHDOG_USEC: undefined, WATCHDOG_PID: undefined }, () => {
    assert.equal(watchdogIntervalUsec(), undefined);
    assert.equal(startWatchdog({ socket: "@x" }), undefined);
  });
});

Deno.test("startWatchdog() pings WATCHDOG=1 at half the interval while healthy", async () => {
  const name = abstractName();
  using receiver = new Receiver(name);
  let healthy = true;
  const watchdog = startWatchdog({ socket: name, intervalUsec: 40_000, healthy: () => healthy });
  assert.ok(watchdog !== undefined);
  try {
    assert.equal(watchdog.periodMs, 20);
    await new Promise((r) => setTimeout(r, 110));
    const pings = receiver.drain();
    assert.ok(pings.length >= 2 && pings.length <= 8, `${pings.length} pings in 110 ms`);
    assert.ok(pings.every((p) => p === "WATCHDOG=1"));
    healthy = false;
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(receiver.drain(), []);
  } finally {
    watchdog.stop();
  }
});
