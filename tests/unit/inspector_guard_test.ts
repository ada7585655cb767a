import assert from "node:assert/strict";
import { isPrivileged, signalMaskHas } from "../../lib/inspector_guard.ts";

// Lines as Linux 6.x prints them in /proc/<pid>/status.
const STATUS = [
  "Name:\tdeno",
  "Uid:\t1000\t1000\t1000\t1000",
  "SigBlk:\t0000000000000000",
  "SigIgn:\t0000000000001000",
  "SigCgt:\t0000000180004a00",
  "CapEff:\t0000000000000000",
].join("\n");

Deno.test("signalMaskHas() reads SIGUSR1 (10) as bit 9 of SigCgt", () => {
  assert.equal(signalMaskHas(STATUS, "SigCgt", 10), true);
  assert.equal(signalMaskHas(STATUS, "SigCgt", 12), true); // SIGUSR2: bit 11 (0x800)
  assert.equal(signalMaskHas(STATUS, "SigCgt", 11), false);
  assert.equal(signalMaskHas(STATUS, "SigIgn", 13), true); // SIGPIPE ignored: 0x1000
  assert.equal(signalMaskHas(STATUS, "SigIgn", 10), false);
  assert.equal(signalMaskHas(STATUS, "SigCgt", 33), true); // bit 32 of 0x180004a00
});

Deno.test("signalMaskHas() throws SyntaxError when the mask is missing", () => {
  assert.throws(() => signalMaskHas("Name:\tx\n", "SigCgt", 10), SyntaxError);
});

Deno.test("signalMaskHas() agrees with this process's own status", () => {
  const status = Deno.readTextFileSync("/proc/self/status");
  // SIGKILL (9) can never be caught or ignored.
  assert.equal(signalMaskHas(status, "SigCgt", 9), false);
  assert.equal(signalMaskHas(status, "SigIgn", 9), false);
});

Deno.test("isPrivileged() is true for root and for any effective capability", () => {
  assert.equal(isPrivileged(STATUS), false);
  assert.equal(isPrivileged(STATUS.replace("Uid:\t1000\t1000", "Uid:\t0\t0")), true);
  assert.equal(isPrivileged(STATUS.replace("Uid:\t1000\t1000", "Uid:\t1000\t0")), true);
  // CAP_NET_ADMIN (12) and CAP_NET_RAW (13), as systemd's AmbientCapabilities gives them.
  assert.equal(isPrivileged(STATUS.replace(/CapEff:\t0+/, "CapEff:\t0000000000003000")), true);
});
