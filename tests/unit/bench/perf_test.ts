import assert from "node:assert/strict";
import {
  builtinEntries,
  builtinNamer,
  codeKind,
  findBytes,
  functionName,
  parsePerfReport,
  sumBy,
  top,
} from "../../../bench/_perf.ts";

/** Lines as `perf report --stdio --no-children -n --sort comm,dso,sym -t '|'` prints them. */
const REPORT = `# To display the perf.data header info, please use --header/--header-only options.
#
# Samples: 1K of event 'cpu-clock'
#
 9.31%  | 316        |worker-1|[kernel.kallsyms]|[k] finish_task_switch.isra.0
 1.71%  | 58         |worker-1|[JIT] tid 9856   |[.] JS:*'#spin file:///work/main/lib/dataplane/direction.ts:140:12
 0.40%  | 14         |worker-2|[JIT] tid 9857   |[.] JS:+'#spin file:///work/main/lib/dataplane/direction.ts:140:12
 1.44%  | 49         |worker-1|libc.so.6        |[.] __poll
 0.76%  | 26         |worker-2|deno             |[.] 0x0000000000001010
 0.10%  | 3          |worker-2|deno             |[.] 0x0000000000009000
 0.05%  | 2          |cfwd    |cfwd             |[.] t2n

`;

Deno.test("parsePerfReport() reads perf's rows and skips its comments", () => {
  const rows = parsePerfReport(REPORT);
  assert.equal(rows.length, 7);
  assert.deepEqual(rows[0], {
    comm: "worker-1",
    dso: "[kernel.kallsyms]",
    symbol: "finish_task_switch.isra.0",
    samples: 316,
  });
  assert.equal(rows[1].dso, "[JIT] tid 9856");
  assert.equal(rows[1].symbol, "JS:*'#spin file:///work/main/lib/dataplane/direction.ts:140:12");
  assert.equal(rows[4].symbol, "0x0000000000001010");
});

Deno.test("functionName() sums a JIT function's tiers and code objects under one name", () => {
  const rows = parsePerfReport(REPORT).filter((r) => r.dso.startsWith("[JIT]"));
  assert.deepEqual([...sumBy(rows, (r) => functionName(r.symbol))], [[
    "#spin direction.ts:140",
    72,
  ]]);
  assert.equal(functionName("JS:~lazyLoad ext:core/01_core.js:961:29"), "lazyLoad 01_core.js:961");
  assert.equal(functionName("__poll"), "__poll", "other symbols stay as they are");
  assert.equal(functionName("0x00007f6f1cb0801d"), "0x00007f6f1cb0801d");
});

/** A perf map: two builtins 0x800 apart, one JS function that is not a builtin. */
const MAP = `7fa237dc0000 3f8 Builtin:DeoptimizationEntry_Eager
7fa237dc0800 100 Builtin:LoadGlobalIC
7fa237dc1000 20 BytecodeHandler:Add
7fa240000000 80 JS:*'f file:///x.ts:1:1
`;

Deno.test("builtinNamer() names addresses of the binary inside the embedded builtins", () => {
  assert.deepEqual(builtinEntries(MAP).base, 0x7fa237dc0000);
  // The blob starts at file offset 0x1000 of the binary.
  const name = builtinNamer(MAP, 0x1000);
  assert.equal(name("0x0000000000001000"), "Builtin:DeoptimizationEntry_Eager");
  assert.equal(name("0x0000000000001810"), "Builtin:LoadGlobalIC");
  assert.equal(name("0x0000000000002010"), "BytecodeHandler:Add");
  assert.equal(name("0x0000000000001400"), undefined, "between two builtins");
  assert.equal(name("0x0000000000000fff"), undefined, "before the blob");
  assert.equal(name("0x0000000000009000"), undefined, "after the last builtin");
  assert.equal(name("__poll"), undefined);
  assert.equal(builtinNamer("", 0)("0x1000"), undefined, "a map without builtins names nothing");
});

Deno.test("codeKind() tells kernel, JIT, V8 builtins, the rest of deno, libc and the program apart", () => {
  const rows = parsePerfReport(REPORT);
  const name = builtinNamer(MAP, 0x1000);
  assert.deepEqual(rows.map((r) => codeKind(r, name, "cfwd")), [
    "kernel",
    "jit",
    "jit",
    "libc",
    "v8-builtin",
    "deno",
    "program",
  ]);
  assert.equal(codeKind(rows[4]), "deno", "without a namer, builtins count with the binary");
});

Deno.test("findBytes() finds the first occurrence of a run of bytes", () => {
  const hay = new Uint8Array([1, 2, 3, 1, 2, 4, 1, 2, 4]);
  assert.equal(findBytes(hay, new Uint8Array([1, 2, 4])), 3);
  assert.equal(findBytes(hay, new Uint8Array([2, 4, 9])), -1);
  assert.equal(findBytes(hay, new Uint8Array([4, 1, 2, 4, 0])), -1, "not past the end");
  assert.equal(findBytes(hay, new Uint8Array([])), 0);
});

Deno.test("top() gives the largest sums first, ties by name", () => {
  const sums = new Map([["b", 2], ["a", 2], ["c", 5], ["d", 1]]);
  assert.deepEqual(top(sums, 3), [["c", 5], ["a", 2], ["b", 2]]);
});
