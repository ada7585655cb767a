/// <reference lib="deno.worker" />
// A Worker for worker_test.ts: opens libc itself and reports getuid() and errno of close(-1).
import { check, openLibc, SyscallError } from "../../../ffi/mod.ts";

const { getuid, close } = openLibc().symbols;
let code = 0;
try {
  check(close(-1), "close", "close fd -1");
} catch (e) {
  code = e instanceof SyscallError ? e.errno : -1;
}
self.postMessage({ uid: getuid(), code });
self.close();
