/**
 * Firewall rules that drop protocol 41, read — never changed — from `nft -j list ruleset` and
 * `iptables-save`, for `stf doctor`. The parsers are pure; {@link readFirewallFindings} runs
 * the two programs when they are installed.
 *
 * What counts: a rule of an `ip` or `inet` table (nftables) or of `iptables-save`'s filter
 * table that matches IP protocol 41 (`ipv6`) and ends in drop or reject; a rule with other
 * matches too (addresses, interfaces) drops only some protocol-41 traffic. A base chain on the
 * input or output hook with policy drop and no rule accepting protocol 41 drops it as well.
 *
 * @module
 */

/** One rule or policy that drops protocol 41. */
export interface FirewallFinding {
  /** `nftables` or `iptables`. */
  readonly source: "nftables" | "iptables";
  /** Where: `inet filter input` (nftables) or `INPUT` (iptables). */
  readonly where: string;
  /** The rule or policy, as text, for the operator to find it. */
  readonly rule: string;
  /** Whether it drops all protocol 41 in that chain (no other match), or only some. */
  readonly all: boolean;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function isProtocol41(value: unknown): boolean {
  if (value === 41 || value === "41" || value === "ipv6") return true;
  if (isObject(value) && Array.isArray(value.set)) return value.set.some(isProtocol41);
  return false;
}

/** Whether a match expression tests the IP protocol (or the layer-4 protocol) for 41. */
function matchesProtocol41(match: Json): boolean {
  const left = match.left;
  if (!isObject(left)) return false;
  const payload = left.payload;
  const meta = left.meta;
  const onProtocol = (isObject(payload) && payload.protocol === "ip" &&
    payload.field === "protocol") ||
    (isObject(meta) && (meta.key === "l4proto" || meta.key === "protocol"));
  const op = match.op ?? "==";
  return onProtocol && (op === "==" || op === "in") && isProtocol41(match.right);
}

function verdictOf(expr: Json[]): "drop" | "accept" | undefined {
  for (const e of expr) {
    if ("drop" in e || "reject" in e) return "drop";
    if ("accept" in e) return "accept";
  }
  return undefined;
}

/**
 * Finds the rules and policies of an nftables ruleset (`nft -j list ruleset`) that drop
 * protocol 41.
 *
 * @param text the JSON text
 * @throws {SyntaxError} when it is not JSON
 */
export function nftablesProtocol41Drops(text: string): FirewallFinding[] {
  const items = (JSON.parse(text) as { nftables?: unknown[] }).nftables ?? [];
  const chains = new Map<string, { hook?: string; policy?: string; accepts41: boolean }>();
  const rules: { key: string; expr: Json[] }[] = [];
  const keyOf = (o: Json) => `${o.family} ${o.table} ${o.chain ?? o.name}`;
  for (const item of items) {
    if (!isObject(item)) continue;
    const chain = item.chain;
    const rule = item.rule;
    if (isObject(chain) && (chain.family === "ip" || chain.family === "inet")) {
      chains.set(keyOf(chain), {
        hook: typeof chain.hook === "string" ? chain.hook : undefined,
        policy: typeof chain.policy === "string" ? chain.policy : undefined,
        accepts41: false,
      });
    }
    if (isObject(rule) && (rule.family === "ip" || rule.family === "inet")) {
      rules.push({
        key: keyOf(rule),
        expr: Array.isArray(rule.expr) ? rule.expr.filter(isObject) : [],
      });
    }
  }
  const out: FirewallFinding[] = [];
  for (const { key, expr } of rules) {
    const matches = expr.map((e) => e.match).filter(isObject);
    const on41 = matches.some(matchesProtocol41);
    const verdict = verdictOf(expr);
    if (on41 && verdict === "accept") {
      const chain = chains.get(key);
      if (chain !== undefined) chain.accepts41 = true;
    }
    if (on41 && verdict === "drop") {
      out.push({
        source: "nftables",
        where: key,
        rule: JSON.stringify(expr),
        all: matches.length === 1,
      });
    }
  }
  for (const [key, chain] of chains) {
    const hooked = chain.hook === "input" || chain.hook === "output";
    if (hooked && chain.policy === "drop" && !chain.accepts41) {
      out.push({ source: "nftables", where: key, rule: "policy drop", all: false });
    }
  }
  return out;
}

/**
 * Finds the rules and policies of `iptables-save` output (filter table) that drop
 * protocol 41.
 *
 * @param text the output
 */
export function iptablesProtocol41Drops(text: string): FirewallFinding[] {
  const out: FirewallFinding[] = [];
  let table = "";
  const policies = new Map<string, string>();
  const accepts = new Set<string>();
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line.startsWith("*")) table = line.slice(1);
    if (table !== "filter") continue;
    const policy = /^:(\S+) (\S+)/.exec(line);
    if (policy !== null) policies.set(policy[1], policy[2]);
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (rule === null) continue;
    const words = rule[2].split(/\s+/);
    const p = words.indexOf("-p") >= 0 ? words.indexOf("-p") : words.indexOf("--protocol");
    const protocol = p >= 0 ? words[p + 1] : undefined;
    if (protocol !== "41" && protocol !== "ipv6") continue;
    if (p > 0 && words[p - 1] === "!") continue;
    const j = words.indexOf("-j");
    const target = j >= 0 ? words[j + 1] : undefined;
    if (target === "ACCEPT") accepts.add(rule[1]);
    if (target !== "DROP" && target !== "REJECT") continue;
    // Anything besides -p, -j and their values narrows the rule.
    const others = words.filter((w, i) => w.startsWith("-") && i !== p && i !== j);
    out.push({ source: "iptables", where: rule[1], rule: line, all: others.length === 0 });
  }
  for (const chain of ["INPUT", "OUTPUT"]) {
    if (policies.get(chain) === "DROP" && !accepts.has(chain)) {
      out.push({ source: "iptables", where: chain, rule: "policy DROP", all: false });
    }
  }
  return out;
}

async function output(program: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined; // not installed
  }
}

/** What {@link readFirewallFindings} could read. */
export interface FirewallReport {
  /** The programs that answered (`nft`, `iptables-save`). */
  readonly read: readonly string[];
  /** The rules and policies that drop protocol 41. */
  readonly findings: readonly FirewallFinding[];
}

/** Reads the ruleset with `nft -j list ruleset` and `iptables-save` (when installed). */
export async function readFirewallFindings(): Promise<FirewallReport> {
  const read: string[] = [];
  const findings: FirewallFinding[] = [];
  const nft = await output("nft", ["-j", "list", "ruleset"]);
  if (nft !== undefined) {
    read.push("nft");
    try {
      findings.push(...nftablesProtocol41Drops(nft));
    } catch { /* not JSON: an nft too old for -j */ }
  }
  const iptables = await output("iptables-save", ["-t", "filter"]);
  if (iptables !== undefined) {
    read.push("iptables-save");
    // iptables-nft shows the same rules nft does: count an nftables finding once.
    if (!findings.some((f) => f.source === "nftables")) {
      findings.push(...iptablesProtocol41Drops(iptables));
    }
  }
  return { read, findings };
}
