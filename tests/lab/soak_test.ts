/**
 * The CI version of `deno task soak` (`bench/soak.ts`): 30 seconds at 10 000 packets/s through
 * two sites; memory flat, descriptors constant, counters consistent.
 */
import assert from "node:assert/strict";
import { formatSoak, runSoak } from "../../bench/soak.ts";
import { labTest } from "./_lab.ts";

labTest(
  "stf run moves 300 000 packets in 30 s with flat memory, constant fds and consistent counters",
  async () => {
    const result = await runSoak({
      durationSeconds: 30,
      rate: 10_000,
      sampleSeconds: 1,
      warmupSeconds: 6,
      rssTolerance: 0.10,
    });
    console.log(formatSoak(result));
    for (const check of result.checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);
  },
);
