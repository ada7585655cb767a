/**
 * Reading `perf record` samples of a forwarder for `bench/profile.ts`: the rows of `perf report`,
 * what kind of code each sample fell in, and the names of V8's builtins, which a stripped `deno`
 * binary does not carry. Pure functions over text and bytes; the tool does the I/O.
 *
 * @module
 */

/** One row of `perf report --sort comm,dso,sym -n -t '|'`. */
export interface PerfRow {
  /** The thread's name (`worker-1`, `V8 DefaultWorke`, `cfwd`). */
  readonly comm: string;
  /** The object the samples fell in (`[kernel.kallsyms]`, `deno`, `[JIT] tid 123`, `libc.so.6`). */
  readonly dso: string;
  /** The symbol, without perf's `[k]`/`[.]` mark; a hex address when perf had no name. */
  readonly symbol: string;
  /** Samples. */
  readonly samples: number;
}

/**
 * Parses the rows of `perf report --stdio --no-children -n --sort comm,dso,sym -t '|'`;
 * comment and empty lines are skipped.
 */
export function parsePerfReport(text: string): PerfRow[] {
  const rows: PerfRow[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const fields = line.split("|");
    if (fields.length < 5) continue;
    const samples = Number(fields[1].trim());
    if (!Number.isFinite(samples)) continue;
    rows.push({
      comm: fields[2].trim(),
      dso: fields[3].trim(),
      symbol: fields.slice(4).join("|").trim().replace(/^\[[k.]\]\s+/, ""),
      samples,
    });
  }
  return rows;
}

/** Where a sample fell. */
export type CodeKind = "kernel" | "jit" | "v8-builtin" | "deno" | "libc" | "program" | "other";

/** The kinds in the order the report lists them. */
export const CODE_KINDS: readonly CodeKind[] = [
  "kernel",
  "jit",
  "v8-builtin",
  "deno",
  "libc",
  "program",
  "other",
];

/**
 * The kind of code a row's samples fell in. `deno` rows are V8's builtins when `builtin` names
 * them, else the rest of the binary (V8's runtime, Deno's FFI glue). `program` is a forwarder's
 * own binary (cfwd).
 *
 * @param row the row
 * @param builtin names an address inside the `deno` binary, when it is a builtin's
 * @param program the name of the forwarder's own binary, if it has one
 */
export function codeKind(
  row: PerfRow,
  builtin: (symbol: string) => string | undefined = () => undefined,
  program?: string,
): CodeKind {
  if (row.dso === "[kernel.kallsyms]") return "kernel";
  if (row.dso.startsWith("[JIT]")) return "jit";
  if (row.dso === "deno") return builtin(row.symbol) === undefined ? "deno" : "v8-builtin";
  if (row.dso.startsWith("libc")) return "libc";
  if (program !== undefined && row.dso === program) return "program";
  return "other";
}

/**
 * The name of a JIT function without its tier and its place (`JS:*'#spin file:///…:140:12` →
 * `#spin direction.ts:140`), so that the code objects of one function (its tiers, its
 * recompilations, one per Worker) add up; other symbols as they are.
 */
export function functionName(symbol: string): string {
  const m = /^JS:[~^+*o']*(\S*) (?:file:\/\/\/)?\S*?([^/\s]+?)(?::(\d+))?(?::\d+)?$/.exec(symbol);
  if (m === null) return symbol;
  return m[3] === undefined ? `${m[1]} ${m[2]}` : `${m[1]} ${m[2]}:${m[3]}`;
}

/** One builtin of V8's embedded blob, from a perf map: its offset in the blob. */
interface BuiltinEntry {
  readonly offset: number;
  readonly size: number;
  readonly name: string;
}

/**
 * Names addresses of the `deno` binary that lie in V8's embedded builtins. V8's perf map
 * (`--perf-basic-prof`, `/tmp/perf-PID.map`) lists every builtin at its address in the running
 * process (`Builtin:LoadGlobalIC`, `BytecodeHandler:…`); `perf report` gives samples in the
 * binary as file offsets. `blobFileOffset` is where the blob starts in the file (see
 * {@link findBytes}).
 *
 * @param perfMap the perf map's text
 * @param blobFileOffset the blob's first byte, as a file offset in the binary
 * @returns a namer of `0x…` symbols; `undefined` outside the builtins
 */
export function builtinNamer(
  perfMap: string,
  blobFileOffset: number,
): (symbol: string) => string | undefined {
  const { entries } = builtinEntries(perfMap);
  if (entries.length === 0) return () => undefined;
  return (symbol) => {
    if (!/^0x[0-9a-f]+$/i.test(symbol)) return undefined;
    const offset = parseInt(symbol, 16) - blobFileOffset;
    // The last entry starting at or before the offset, if the offset lies inside it.
    let lo = 0;
    let hi = entries.length - 1;
    if (offset < entries[0].offset) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (entries[mid].offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const e = entries[lo];
    return offset < e.offset + e.size ? e.name : undefined;
  };
}

/**
 * The builtins of a perf map: the first one's address in the process (`base`), and each one's
 * offset from it, in address order.
 */
export function builtinEntries(perfMap: string): {
  base: number | undefined;
  entries: BuiltinEntry[];
} {
  const raw: { address: number; size: number; name: string }[] = [];
  for (const line of perfMap.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) ((?:Builtin|BytecodeHandler):\S.*)$/i.exec(line);
    if (m === null) continue;
    raw.push({ address: parseInt(m[1], 16), size: parseInt(m[2], 16), name: m[3] });
  }
  raw.sort((a, b) => a.address - b.address);
  const base = raw[0]?.address;
  return {
    base,
    entries: raw.map((r) => ({ offset: r.address - base!, size: r.size, name: r.name })),
  };
}

/** The offset of the first occurrence of `needle` in `haystack`, or -1. */
export function findBytes(haystack: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0;
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (
    let i = haystack.indexOf(first);
    i >= 0 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Samples summed by a key. */
export function sumBy(
  rows: readonly PerfRow[],
  key: (row: PerfRow) => string,
): Map<string, number> {
  const sums = new Map<string, number>();
  for (const row of rows) sums.set(key(row), (sums.get(key(row)) ?? 0) + row.samples);
  return sums;
}

/** The `n` largest entries of a sum, largest first. */
export function top(sums: Map<string, number>, n: number): [string, number][] {
  return [...sums.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
}
