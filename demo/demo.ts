/**
 * `deno task demo`: the seed's scenario, live, in network namespaces. A LAN host behind a 6to4
 * site reaches a server with native IPv6 through a 6to4 relay; the server runs
 * `stf run --mode return-path`, so its replies go straight back to the site over IPv4 and never
 * pass the relay. Each step is narrated, with what tcpdump saw and what stf's counters say; the
 * namespaces are removed at the end, on error and on Ctrl-C. Needs root; under a minute.
 *
 * @module
 */
// Types only: the lab modules are loaded after the root check (they print a note when
// imported where the lab cannot run).
import type { CapturedLine, SeedLab } from "../tests/lab/_seed.ts";
import type { DirectionCounters } from "../lib/dataplane/mod.ts";

type Seed = typeof import("../tests/lab/_seed.ts");
let seed: Seed;

const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;

let stepNumber = 0;
let interrupted = false;
let removing = false;

/** Prints a numbered step; stops the demo when Ctrl-C was pressed. */
function step(message: string): void {
  if (interrupted && !removing) throw new Error("Interrupted");
  stepNumber++;
  console.log(`\n${bold(`${stepNumber}. ${message}`)}`);
}

/** Prints a detail of the current step. */
function say(message: string): void {
  console.log(`   ${message}`);
}

function ipv4Between(lines: readonly CapturedLine[], src: string, dst: string): CapturedLine[] {
  return lines.filter((l) => l.startsWith(`IP ${src} > ${dst}:`));
}

/** "N packets (i ICMPv6, t TCP)". */
function packets(lines: readonly CapturedLine[]): string {
  const n = lines.length;
  const icmp = lines.filter((l) => l.includes("ICMP6")).length;
  const detail = n === 0 ? "" : ` (${icmp} ICMPv6 echo, ${n - icmp} TCP)`;
  return `${n} packet${n === 1 ? "" : "s"}${detail}`;
}

function direction(name: string, c: DirectionCounters): string {
  const drops = Object.entries(c.dropped).filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return `${name} ${c.packets} forwarded (${c.bytes} bytes)` +
    (drops.length > 0 ? `, dropped: ${drops.join(", ")}` : "");
}

async function demo(lab: SeedLab): Promise<void> {
  const { SEED, waitUntil } = seed;
  step("Watching with tcpdump: the relay's IPv4 link, the relay's IPv6 link, the site's IPv4 link");
  const relayWan = await lab.capture(lab.relay, "wan", "ip proto 41");
  const relayV6 = await lab.capture(lab.relay, "v6", "ip6 and not icmp6[0] >= 133");
  const siteWan = await lab.capture(lab.site, "wan", "ip proto 41");

  step(`The LAN host ${SEED.lanHost} pings the server ${SEED.serverNative} (3 echo requests)`);
  const ping = await lab.lan.run`ping -6 -c 3 -i 0.2 -W 2 ${SEED.serverNative}`.noThrow()
    .quiet().captureCombined();
  const summary = ping.combined.split("\n").find((l) => l.includes("received"));
  say(`ping: ${summary ?? ping.combined.trim()}`);
  if (ping.code !== 0) throw new Error(`ping failed:\n${ping.combined}`);

  step(`The LAN host opens a TCP connection to [${SEED.serverNative}]:${SEED.serverPort}`);
  const service = lab.spawn(lab.server, [
    "socat",
    `TCP6-LISTEN:${SEED.serverPort},bind=[${SEED.serverNative}],reuseaddr,fork`,
    "SYSTEM:echo hello from the server over native IPv6",
  ], "socat server");
  await waitUntil(
    async () =>
      (await lab.server.run`ss -Hltn`.text()).includes(`:${SEED.serverPort}`) ||
      service.status !== undefined,
    "The demo's TCP service did not start",
  );
  const tcp = await lab.lan
    .run`timeout 10 socat -T 5 - TCP6:[${SEED.serverNative}]:${SEED.serverPort}`.stdinText("")
    .noThrow().quiet().captureCombined();
  if (tcp.code !== 0) throw new Error(`TCP connection failed:\n${tcp.combined}`);
  say(`the server answered: "${tcp.stdout.trim()}"`);
  await service.stop();

  step("Which path did the packets take?");
  const wan = await relayWan.stop();
  const v6 = await relayV6.stop();
  const site = await siteWan.stop();
  const requests = ipv4Between(wan, SEED.siteIpv4, SEED.relayIpv4);
  const relayBack = ipv4Between(wan, SEED.relayIpv4, SEED.siteIpv4);
  // tcpdump writes TCP endpoints as address.port.
  const nativeOut = v6.filter((l) => l.startsWith(`IP6 ${SEED.lanHost}`));
  const nativeBack = v6.filter((l) => / > 2002:/.test(l));
  const direct = ipv4Between(site, SEED.serverIpv4, SEED.siteIpv4);
  say(
    `request, site → relay (protocol 41, ${SEED.siteIpv4} → ${SEED.relayIpv4}): ` +
      packets(requests),
  );
  say(`request, relay → server (native IPv6, seen on the relay): ${packets(nativeOut)}`);
  say(`reply, server → relay (native IPv6 to 2002::/16): ${packets(nativeBack)}`);
  say(
    `reply, relay → site (protocol 41, ${SEED.relayIpv4} → ${SEED.siteIpv4}): ` +
      packets(relayBack),
  );
  say(
    `reply, server → site directly (protocol 41, ${SEED.serverIpv4} → ${SEED.siteIpv4}): ` +
      packets(direct),
  );
  if (direct.length > 0) say(`e.g. ${direct[0]}`);
  if (relayBack.length === 0 && nativeBack.length === 0 && direct.length > 0) {
    say("→ the relay carried the requests only; the replies took the return path.");
  } else {
    throw new Error("The replies did not take the return path (see the counts above)");
  }

  step("Stopping stf (SIGTERM) and reading its final counters");
  let kernelReports = false;
  for (
    const [name, stf] of [
      ["site (router)", lab.stf.site],
      ["relay", lab.stf.relay],
      ["server (return-path)", lab.stf.server],
    ] as const
  ) {
    const c = await stf!.finish();
    say(`${name}: ${direction("egress", c.egress)}; ${direction("ingress", c.ingress)}`);
    kernelReports ||= c.egress.dropped["src-invalid"] > 0;
  }
  if (kernelReports) {
    say(
      "(src-invalid: the kernel's own MLDv2 reports of ff02::2, sent from :: on a router's " +
        "stf0, which 6to4 never encapsulates, RFC 3964 §5.3.2)",
    );
  }
}

async function main(): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error("The stf demo needs root (it builds network namespaces): run it with sudo");
    return 1;
  }
  const { labUnavailableReason } = await import("../tests/lab/_lab.ts");
  seed = await import("../tests/lab/_seed.ts");
  const { buildSeedLab } = seed;
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    console.error(`The stf demo cannot run here: ${unavailable.replace(/^lab tests/, "it")}`);
    return 1;
  }
  const started = Date.now();
  const onInterrupt = () => {
    if (!interrupted) console.log("\nInterrupted: removing the lab…");
    interrupted = true;
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  console.log(bold("stf demo: the 6to4 return path (RFC 3056, RFC 3964)"));
  console.log(
    "A LAN host behind a 6to4 site reaches a server with native IPv6 through a relay; the\n" +
      "server runs `stf run --mode return-path`, so its replies skip the relay.",
  );
  let code = 0;
  try {
    stepNumber++;
    console.log(`\n${bold(`${stepNumber}. Building the lab in network namespaces`)}`);
    const lab = await buildSeedLab({
      onStep: (message) => {
        if (interrupted) throw new Error("Interrupted");
        say(message);
      },
    });
    try {
      await demo(lab);
    } finally {
      removing = true; // the removal itself is not interrupted
      step("Removing the namespaces");
      await lab[Symbol.asyncDispose]();
    }
    say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    if (interrupted) {
      console.error("Interrupted; the lab was removed");
      code = 130;
    } else {
      console.error(`The demo failed: ${e instanceof Error ? e.message : String(e)}`);
      console.error("The lab was removed");
      code = 1;
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
  return code;
}

if (import.meta.main) Deno.exit(await main());
