/**
 * Runs scapy (`/usr/bin/python3`) once over a batch of packets: an independent dissector for
 * the bytes our code writes. When scapy is missing, tests skip with the reason, unless
 * `STF_REQUIRE_LAB=1`, where they fail.
 *
 * @module
 */

/** Why scapy cannot run here, or `undefined`. */
export function scapyUnavailableReason(): string | undefined {
  try {
    const out = new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import scapy.all"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (!out.success) return "scapy is not installed (Debian package python3-scapy)";
  } catch {
    return "/usr/bin/python3 is missing (Debian packages python3 and python3-scapy)";
  }
  return undefined;
}

/** Whether tests that need scapy must skip (printing the reason) rather than fail. */
export function skipWithoutScapy(): boolean {
  const reason = scapyUnavailableReason();
  if (reason === undefined) return false;
  if (Deno.env.get("STF_REQUIRE_LAB") === "1") {
    throw new Error(`scapy is required (STF_REQUIRE_LAB=1) but unavailable: ${reason}`);
  }
  console.error(`Skipping scapy oracle tests: ${reason}`);
  return true;
}

/**
 * Runs a Python body once: it reads one hex packet per stdin line into `packets` (a list of
 * bytes) and must print one JSON document to stdout. Returns the parsed JSON.
 *
 * @param body Python code using `packets` and `json`
 * @param packets the packets
 */
export async function runScapy(body: string, packets: Uint8Array[]): Promise<unknown> {
  const script = [
    "import sys, json, logging",
    "logging.getLogger('scapy.runtime').setLevel(logging.ERROR)",
    "from scapy.all import IP, IPv6, raw",
    "from scapy.layers.inet6 import in6_chksum",
    "packets = [bytes.fromhex(l.strip()) for l in sys.stdin if l.strip()]",
    body,
  ].join("\n");
  return await runPython(script, packets.map(hex).join("\n") + "\n");
}

/** Hex text of bytes. */
export const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Bytes of hex text. */
export const unhex = (s: string): Uint8Array =>
  Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

/**
 * Runs a Python body with scapy's IPv6, TCP, UDP and raw imported and `args` (the given value,
 * as JSON on stdin) bound; the body prints JSON, which is returned parsed.
 *
 * @param body the Python statements
 * @param args the value bound to `args`
 */
export async function scapyJson(body: string, args: unknown): Promise<unknown> {
  const script = [
    "import sys, json, logging, random",
    "logging.getLogger('scapy.runtime').setLevel(logging.ERROR)",
    "from scapy.all import IPv6, TCP, UDP, raw",
    "args = json.loads(sys.stdin.read())",
    body,
  ].join("\n");
  return await runPython(script, JSON.stringify(args));
}

/** Runs a Python script with Debian's python3 (scapy), `input` on stdin; returns its JSON. */
async function runPython(script: string, input: string): Promise<unknown> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`scapy failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
