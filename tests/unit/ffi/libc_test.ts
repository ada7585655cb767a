import assert from "node:assert/strict";
import { check, cString, openLibc, SyscallError } from "../../../ffi/mod.ts";

Deno.test("openLibc() binds libc and returns the same library twice", () => {
  const libc = openLibc();
  assert.equal(openLibc(), libc);
  assert.equal(libc.symbols.getuid(), Deno.uid());
});

Deno.test("if_nametoindex() finds the loopback interface", () => {
  assert.ok(openLibc().symbols.if_nametoindex(cString("lo")) > 0);
});

Deno.test("check() turns close(-1) into a SyscallError carrying EBADF", () => {
  const { close } = openLibc().symbols;
  assert.throws(
    () => check(close(-1), "close", 'close fd "-1"'),
    (e: unknown) =>
      e instanceof SyscallError && e.errno === 9 && e.code === "EBADF" && e.call === "close" &&
      e.message === 'Cannot close fd "-1": EBADF (Bad file descriptor)',
  );
});

Deno.test("check() says EPERM needs root or CAP_NET_ADMIN", () => {
  assert.throws(
    () => check(-1, "ioctl(TUNSETIFF)", 'create TUN device "stf0"', { errno: 1 }),
    {
      name: "SyscallError",
      message: 'Cannot create TUN device "stf0": EPERM (needs root or CAP_NET_ADMIN)',
    },
  );
});

Deno.test("check() returns a non-negative result unchanged", () => {
  assert.equal(check(5, "read", "read"), 5);
});
