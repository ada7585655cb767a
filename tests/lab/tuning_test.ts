/**
 * "Correctness stays" (issue 5): the lab tests of `stf run` — the seed's scenario, hostile
 * input, the tunnel MTU and path MTU (`seed_scenario_test.ts`) and the run tests
 * (`run_test.ts`) — pass with each optimisation of the data plane switched off or changed,
 * not only with the defaults. Each variant runs those files in a child `deno test` with
 * `STF_LAB_RUN_FLAGS` added to every `stf run` (`_seed.ts`).
 */
import assert from "node:assert/strict";
import { labTest, ROOT } from "./_lab.ts";

const FILES = ["tests/lab/seed_scenario_test.ts", "tests/lab/run_test.ts"];

const VARIANTS: readonly { readonly flags: string; readonly why: string }[] = [
  { flags: "--batch 1", why: "one syscall per packet, no recvmmsg/sendmmsg" },
  { flags: "--no-offload", why: "no TUN offloads: no segmentation, no coalescing" },
  { flags: "--queues 2", why: "two TUN queues, a Worker pair each, BPF-split ingress" },
];

for (const v of VARIANTS) {
  labTest(`the stf run lab tests pass with ${v.flags} (${v.why})`, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--quiet", ...FILES],
      cwd: ROOT,
      env: { STF_LAB_RUN_FLAGS: v.flags, STF_REQUIRE_LAB: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const summary = /ok \| (\d+) passed \| (\d+) failed/.exec(text) ??
      /FAILED \| (\d+) passed \| (\d+) failed/.exec(text);
    assert.ok(out.success, `with ${v.flags}:\n${text.slice(-4000)}`);
    assert.ok(summary !== null && Number(summary[1]) >= 8, `with ${v.flags}:\n${text}`);
  });
}
