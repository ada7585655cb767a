/**
 * The command-line definition: all of Optique is here (docs/architecture.md, "Conventions"). It turns argv into
 * a plain, typed {@link Invocation}; the actions in `lib/commands/` never see Optique.
 *
 * @module
 */
import {
  argument,
  choice,
  command,
  constant,
  extractOptionNames,
  float,
  formatMessage,
  integer,
  lineBreak,
  type Message,
  message,
  multiple,
  object,
  option,
  optional,
  or,
  string,
  text,
} from "@optique/core";
import { runParser } from "@optique/core/facade";
import { findSimilar } from "@optique/core/suggestion";
import { type ConfigOverrides, ipv4SourceFromFlag } from "./config/mod.ts";
import type { DecodeOptions } from "./commands/decode.ts";
import type { DoctorOptions } from "./commands/doctor.ts";
import type { PrefixOptions } from "./commands/prefix.ts";
import { VERSION } from "./version.ts";

/** A help footer of examples, one per line. */
function examples(...lines: string[]): Message {
  const terms: Message[number][] = [text("Examples:")];
  for (const line of lines) terms.push(lineBreak(), text(`  ${line}`));
  return terms;
}

const json = option("--json", { description: message`Print JSON instead of text.` });

const sixRdPrefix = optional(option("--6rd-prefix", string({ metavar: "PREFIX/LEN" }), {
  description: message`Use this 6rd prefix (RFC 5969) instead of 6to4's 2002::/16.`,
}));
const sixRdMaskLength = optional(
  option("--6rd-ipv4-mask-len", integer({ min: 0, max: 32, metavar: "N" }), {
    description: message`High-order IPv4 bits common to the 6rd domain, not embedded (0..32).`,
  }),
);

const prefixCommand = command(
  "prefix",
  object({
    command: constant("prefix" as const),
    target: argument(string({ metavar: "IPV4|INTERFACE|auto" }), {
      description:
        message`An IPv4 address, an interface (its IPv4 addresses), or ${"auto"} (every global IPv4 address of the host).`,
    }),
    subnet: optional(option("--subnet", integer({ min: 0, metavar: "N" }), {
      description: message`Give the /64 with this subnet ID (0..65535 for 6to4).`,
    })),
    interfaceId: optional(option("--interface-id", string({ metavar: "IID" }), {
      description:
        message`Also give the address with this interface ID (an IPv6 address, e.g. ${"::1"}).`,
    })),
    sixRdPrefix,
    sixRdIpv4MaskLength: sixRdMaskLength,
    allowNonGlobal: option("--allow-non-global", {
      description: message`Accept a private, shared or otherwise non-global IPv4 for 6to4 (a lab).`,
    }),
    json,
  }),
  {
    brief: message`Compute the 6to4 or 6rd prefix of an IPv4 address.`,
    description:
      message`Compute the 6to4 prefix 2002:V4::/48 (RFC 3056 §2) or the 6rd delegated prefix (RFC 5969 §7.1.1) of IPv4 addresses, one result per line.`,
    footer: examples(
      "stf prefix 192.0.2.1                       → 2002:c000:201::/48",
      "stf prefix 192.0.2.1 --subnet 1 --interface-id ::1",
      "stf prefix eth0 --json",
      "stf prefix 10.100.100.1 --6rd-prefix 2001:db8::/32 --6rd-ipv4-mask-len 8",
    ),
  },
);

const decodeCommand = command(
  "decode",
  object({
    command: constant("decode" as const),
    address: argument(string({ metavar: "IPV6[/LEN]" }), {
      description: message`A 6to4 (or 6rd) address or prefix.`,
    }),
    sixRdPrefix,
    sixRdIpv4MaskLength: sixRdMaskLength,
    sixRdIpv4CommonPrefix: optional(
      option("--6rd-ipv4-common-prefix", string({ metavar: "IPV4" }), {
        description:
          message`The IPv4 bits common to the 6rd domain (needed to decode when the mask length is not 0).`,
      }),
    ),
    json,
  }),
  {
    brief: message`Decode the IPv4 address embedded in a 6to4 or 6rd address.`,
    description:
      message`Print the IPv4 address embedded in a 6to4 address (bits 16..47, RFC 3056 §2) or a 6rd address; with --json also the subnet ID, the interface ID and the IPv4's class.`,
    footer: examples(
      "stf decode 2002:c000:201::1                → 192.0.2.1",
      "stf decode 2002:c000:201:1::/64 --json",
      "stf decode 2001:db8:6464:100:: --6rd-prefix 2001:db8::/32 --6rd-ipv4-mask-len 8 --6rd-ipv4-common-prefix 10.0.0.0",
    ),
  },
);

const configFile = optional(option("-c", "--config", string({ metavar: "FILE" }), {
  description: message`Read settings from this YAML file; flags override it.`,
}));
const name = optional(option("--name", string({ metavar: "NAME" }), {
  description: message`The interface name (default ${"stf0"}, at most 15 bytes).`,
}));

/** Flags that set the interface (shared by `up` and `run`). */
const interfaceFlags = {
  config: configFile,
  name,
  ipv4: optional(option("--ipv4", string({ metavar: "IPV4|INTERFACE|auto" }), {
    description:
      message`This host's public IPv4 address, an interface holding it, or ${"auto"} (the only global one).`,
  })),
  mtu: optional(option("--mtu", integer({ metavar: "N" }), {
    description: message`The tunnel MTU, 1280..1480 (default 1480, RFC 4213 §3.2).`,
  })),
  subnet: optional(option("--subnet", integer({ min: 0, metavar: "N" }), {
    description: message`The subnet ID of the interface address (default 0).`,
  })),
  interfaceId: optional(option("--interface-id", string({ metavar: "IID" }), {
    description: message`The interface ID of the interface address (default ${"::1"}).`,
  })),
  relays: multiple(option("--relay", string({ metavar: "IPV4|none" }), {
    description:
      message`A 6to4 relay for native IPv6 destinations, repeatable in order of preference (the first that answers its probes is used); none by default (RFC 7526 §5).`,
  })),
  defaultRoute: optional(option("--default-route", {
    description: message`Route ${"::/0"} into the tunnel (needs --relay).`,
  })),
  routes: multiple(option("--route", string({ metavar: "PREFIX" }), {
    description: message`Route another IPv6 prefix into the tunnel (repeatable).`,
  })),
  allowNonGlobal: optional(option("--allow-non-global", {
    description: message`Accept a private or shared own IPv4 (behind NAT, or a lab).`,
  })),
  bindIpv4: optional(option("--bind-ipv4", string({ metavar: "IPV4" }), {
    description:
      message`Behind a 1:1 NAT: the local address the NAT maps --ipv4 (the public one) to.`,
  })),
  sixRdPrefix,
  sixRdIpv4MaskLength: sixRdMaskLength,
  sixRdIpv4CommonPrefix: optional(
    option("--6rd-ipv4-common-prefix", string({ metavar: "IPV4" }), {
      description: message`The IPv4 bits common to the 6rd domain.`,
    }),
  ),
};

const upCommand = command(
  "up",
  object({
    command: constant("up" as const),
    ...interfaceFlags,
    owner: optional(option("--owner", string({ metavar: "USER" }), {
      description: message`Let this user attach to the TUN without privileges (TUNSETOWNER).`,
    })),
    dryRun: option("--dry-run", {
      description: message`Print the equivalent iproute2 commands and change nothing.`,
    }),
    json,
  }),
  {
    brief: message`Create and configure the stf interface, then exit.`,
    description:
      message`Create a persistent TUN device (default ${"stf0"}) with the address 2002:V4:SUBNET::IID/16, MTU and routes, through libc ioctls; idempotent: a second run changes nothing, another one reconciles. Undone by ${"stf down"}.`,
    footer: examples(
      "stf up --ipv4 198.51.100.10                 → 2002:c633:640a::1/16 on stf0",
      "stf up --ipv4 eth0 --relay 192.0.2.99 --default-route",
      "stf up --config /etc/stf/stf.yaml --dry-run",
    ),
  },
);

const downCommand = command(
  "down",
  object({
    command: constant("down" as const),
    config: configFile,
    name,
    dryRun: option("--dry-run", {
      description: message`Print the equivalent iproute2 commands and change nothing.`,
    }),
    json,
  }),
  {
    brief: message`Remove the stf interface that up made.`,
    description:
      message`Remove the routes, the address and the persistent TUN device that ${"stf up"} made. Idempotent: nothing to do is not an error. Refuses an interface stf did not make.`,
    footer: examples("stf down", "stf down --name stf1"),
  },
);

const runCommand = command(
  "run",
  object({
    command: constant("run" as const),
    ...interfaceFlags,
    mode: optional(
      option("--mode", choice(["router", "return-path", "relay"] as const, { metavar: "MODE" }), {
        description:
          message`${"router"} (a 6to4 site, default), ${"return-path"} (a server that only encapsulates replies to 2002::/16), ${"relay"} (RFC 3056 §5).`,
      }),
    ),
    sitePrefixes: multiple(option("--site-prefix", string({ metavar: "PREFIX" }), {
      description: message`A native IPv6 prefix of this site (inner-src-own-prefix; repeatable).`,
    })),
    allowPeers: multiple(option("--allow-peer", string({ metavar: "PREFIX" }), {
      description:
        message`Accept protocol 41 only from these IPv4 prefixes (peer-not-allowed; repeatable).`,
    })),
    allowRelays: multiple(option("--allow-relay", string({ metavar: "PREFIX" }), {
      description:
        message`Accept native sources only from these relays (relay-not-allowed; repeatable).`,
    })),
    relayProbeInterval: optional(
      option("--relay-probe-interval", float({ metavar: "SECONDS" }), {
        description: message`Seconds between two probes of each relay, ±10 % jitter (default 10).`,
      }),
    ),
    relayProbeFailures: optional(
      option("--relay-probe-failures", integer({ metavar: "N" }), {
        description:
          message`Probes lost in a row after which a relay is down (default 3; 2 answered bring it back).`,
      }),
    ),
    relayProbeTarget: optional(option("--relay-probe-target", string({ metavar: "IPV6" }), {
      description:
        message`A native IPv6 address probed through each relay (default: each relay's own 2002:V4::).`,
    })),
    strictBogons: optional(option("--strict-bogons", {
      description: message`Also treat the other RFC 6890 non-global IPv4 blocks as martian.`,
    })),
    ttl: optional(option("--ttl", integer({ metavar: "N" }), {
      description: message`The outer TTL, 1..255 (default 64).`,
    })),
    dscp: optional(option("--dscp", choice(["copy", "zero"] as const, { metavar: "copy|zero" }), {
      description: message`Copy the inner DSCP to the outer header, or write zero (default copy).`,
    })),
    statsInterval: optional(option("--stats-interval", integer({ min: 0, metavar: "SECONDS" }), {
      description:
        message`Print the counters every so many seconds (0: only at exit and on SIGUSR2).`,
    })),
    logLevel: optional(
      option(
        "--log-level",
        choice(["trace", "debug", "info", "warning", "error", "fatal"] as const, {
          metavar: "LEVEL",
        }),
        {
          description:
            message`The lowest level logged (default info; debug logs each drop, rate-limited).`,
        },
      ),
    ),
    logFormat: optional(
      option("--log-format", choice(["text", "json"] as const, { metavar: "text|json" }), {
        description: message`Text lines, or JSON lines for log collectors (default text).`,
      }),
    ),
    metrics: optional(option("--metrics", string({ metavar: "ADDR:PORT" }), {
      description:
        message`Serve Prometheus metrics on ${"/metrics"} at IPV4:PORT or [IPV6]:PORT (e.g. ${"127.0.0.1:9641"}).`,
    })),
    controlSocket: optional(option("--control-socket", string({ metavar: "PATH" }), {
      description: message`The control socket of ${"stf status"} (default /run/stf/NAME.sock).`,
    })),
    user: optional(option("--user", string({ metavar: "USER" }), {
      description:
        message`Drop root to this user once the devices are open (setgroups, setgid, setuid).`,
    })),
    onPrefixChange: optional(option("--on-prefix-change", string({ metavar: "PATH" }), {
      description:
        message`Run this executable with OLD_PREFIX NEW_PREFIX after the own IPv4 address changed (STF_* environment).`,
    })),
    batch: optional(option("--batch", integer({ min: 1, max: 1024, metavar: "N" }), {
      description: message`Tuning: packets per batch syscall (default 64; 1 turns batching off).`,
    })),
    noOffload: option("--no-offload", {
      description: message`Tuning: turn TUN offloads (segmentation, coalescing) off.`,
    }),
    queues: optional(option("--queues", integer({ min: 1, max: 16, metavar: "N" }), {
      description:
        message`Tuning: N TUN queues (IFF_MULTI_QUEUE), a Worker pair each, flows spread over them (default 1; for hosts with more than 2 cores).`,
    })),
  }),
  {
    brief: message`Run the forwarder in the foreground.`,
    description:
      message`Forward IPv6 between the stf interface and IPv4 protocol 41 with the filters of RFC 3964. Attaches to the interface ${"stf up"} made, or creates one and removes it on exit. SIGINT/SIGTERM stop, SIGHUP reloads the configuration, SIGUSR2 prints the counters.`,
    footer: examples(
      "stf run --ipv4 203.0.113.80 --mode return-path     (the seed's server)",
      "stf run --ipv4 eth0 --relay 192.0.2.99 --default-route --site-prefix 2001:db8:1::/48",
      "stf run --config /etc/stf/stf.yaml --log-format json --stats-interval 60",
    ),
  },
);

const checkConfigCommand = command(
  "check-config",
  object({
    command: constant("check-config" as const),
    file: argument(string({ metavar: "FILE" }), {
      description: message`The YAML configuration file.`,
    }),
    json,
  }),
  {
    brief: message`Validate a configuration file and print the effective configuration.`,
    description:
      message`Validate a YAML configuration file against the schema and print the effective configuration (defaults filled in). Errors are printed as file:line:col: path: message, exit 2.`,
    footer: examples(
      "stf check-config /etc/stf/stf.yaml",
      "stf check-config stf.example.yaml --json",
    ),
  },
);

const statusCommand = command(
  "status",
  object({
    command: constant("status" as const),
    name,
    controlSocket: optional(option("--control-socket", string({ metavar: "PATH" }), {
      description: message`Ask the forwarder through this socket (default /run/stf/NAME.sock).`,
    })),
    json,
  }),
  {
    brief: message`Show the stf interface and the running forwarder's counters.`,
    description:
      message`Show whether the interface exists and whether stf made it, its address, MTU, state and routes, and the running ${"stf run"}'s mode and counters (through its control socket), or that no forwarder is running. Exit 0 when the interface exists, 1 when it does not.`,
    footer: examples("stf status", "stf status --name stf1 --json"),
  },
);

const doctorCommand = command(
  "doctor",
  object({
    command: constant("doctor" as const),
    config: configFile,
    name,
    ipv4: interfaceFlags.ipv4,
    bindIpv4: interfaceFlags.bindIpv4,
    allowNonGlobal: interfaceFlags.allowNonGlobal,
    relays: interfaceFlags.relays,
    relayProbeTarget: optional(option("--relay-probe-target", string({ metavar: "IPV6" }), {
      description:
        message`A native IPv6 address probed through each relay (default: each relay's own 2002:V4::).`,
    })),
    peers: multiple(option("--peer", string({ metavar: "IPV4" }), {
      description:
        message`Also probe this 6to4 peer (its router 2002:V4::1) directly (repeatable).`,
    })),
    timeout: optional(option("--timeout", float({ metavar: "SECONDS" }), {
      description: message`Give the probes at most this long in all (default 3).`,
    })),
    controlSocket: optional(option("--control-socket", string({ metavar: "PATH" }), {
      description: message`Ask the forwarder through this socket (default /run/stf/NAME.sock).`,
    })),
    json,
  }),
  {
    brief: message`Check what makes 6to4 fail on this host, and say what to do.`,
    description:
      message`Print a checklist, one line per check (ok, warn or FAIL) with what to do: /dev/net/tun and the capabilities, the own IPv4 (global, or private behind a NAT), the uplink's MTU and receive offloads, the kernel's tunnel modules, firewall rules dropping protocol 41, another interface claiming 2002::/16, the forwarder, and whether each relay and --peer answers a probe (ICMPv6 Echo in protocol 41). Reads, never changes. Exit 0 when no check fails, else 1.`,
    footer: examples(
      "stf doctor",
      "stf doctor --config /etc/stf/stf.yaml --json",
      "stf doctor --ipv4 198.51.100.10 --relay 192.0.2.99 --peer 203.0.113.20 --timeout 5",
    ),
  },
);

/** Each command's parser by its name, for the options a usage error may suggest. */
const COMMANDS = {
  prefix: prefixCommand,
  decode: decodeCommand,
  up: upCommand,
  down: downCommand,
  run: runCommand,
  "check-config": checkConfigCommand,
  status: statusCommand,
  doctor: doctorCommand,
} as const;

const parser = or(
  prefixCommand,
  decodeCommand,
  upCommand,
  downCommand,
  runCommand,
  checkConfigCommand,
  statusCommand,
  doctorCommand,
);

/** The options of `up`, `down` and `run`: a configuration file and the flags over it. */
export interface ConfiguredInvocation {
  /** The configuration file, if any. */
  readonly config?: string;
  /** The flags given, in the configuration's shape. */
  readonly overrides: ConfigOverrides;
  /** `--dry-run` (`up`, `down`). */
  readonly dryRun: boolean;
  /** `--json` (`up`, `down`). */
  readonly json: boolean;
  /** Data-plane tuning flags (`run`). */
  readonly tuning?: {
    readonly batch?: number;
    readonly offload?: boolean;
    readonly queues?: number;
  };
  /** `--control-socket` (`run`). */
  readonly controlSocket?: string;
}

/** A parsed command line: which command, with its options as plain values. */
export type Invocation =
  | ({ readonly command: "prefix" } & PrefixOptions)
  | ({ readonly command: "decode" } & DecodeOptions)
  | ({ readonly command: "up" | "down" | "run" } & ConfiguredInvocation)
  | { readonly command: "check-config"; readonly file: string; readonly json: boolean }
  | ({ readonly command: "doctor" } & DoctorOptions)
  | {
    readonly command: "status";
    readonly name?: string;
    readonly controlSocket?: string;
    readonly json: boolean;
  };

type Parsed = ReturnType<typeof parseRaw>;

/**
 * The lines a usage error prints: the error on one line (with a suggestion for a mistyped
 * command or option), then where to read more: `stf CMD --help` for the command concerned, or
 * `stf --help`.
 *
 * @param args the arguments, without a leading `--`
 * @param error Optique's message, as text
 */
export function usageErrorLines(args: readonly string[], error: string): string[] {
  const name = args.find((a) => Object.hasOwn(COMMANDS, a)) as keyof typeof COMMANDS | undefined;
  let line = error.replace(/\s*\n+\s*/g, " ").trim();
  const missing = /^Expected an? `([^`]+)`, but too few arguments\.?$/.exec(line);
  if (missing !== null) line = `Missing the argument ${missing[1]}.`;
  const unexpected = /^Unexpected option or subcommand: `([^`]+)`\./.exec(line);
  if (unexpected !== null && name !== undefined && unexpected[1].startsWith("-")) {
    // Optique suggests commands only; an option is compared with the command's own options.
    const token = unexpected[1].replace(/=.*$/, "");
    const options = [...extractOptionNames(COMMANDS[name].usage), "--help"];
    const similar = findSimilar(token, options, { maxDistance: 3 });
    line = `Unexpected option \`${unexpected[1]}\` for stf ${name}.`;
    if (similar.length > 0) {
      line += ` Did you mean ${similar.map((o) => `\`${o}\``).join(" or ")}?`;
    } else {
      const elsewhere = Object.entries(COMMANDS).filter(([, c]) =>
        extractOptionNames(c.usage).has(token)
      ).map(([other]) => `stf ${other}`);
      if (elsewhere.length > 0) line += ` It is an option of ${elsewhere.join(", ")}.`;
    }
  }
  return [
    `Error: ${line}`,
    name === undefined
      ? `Run "stf --help" for the commands.`
      : `Run "stf ${name} --help" for its usage.`,
  ];
}

function parseRaw(
  args: readonly string[],
  onExit: (code: number) => never,
  helpTo: "stdout" | "stderr" = "stdout",
) {
  return runParser(
    parser,
    "stf",
    args,
    {
      help: { command: true, option: true },
      version: { value: VERSION, option: true },
      completion: { command: { names: ["completions", "completion"] } },
      brief: [
        text(`stf ${VERSION}: a userspace 6to4 tunnel (RFC 3056) and 6rd (RFC 5969) for Linux.`),
      ],
      description:
        message`stf computes 6to4 and 6rd addresses, brings up an stf interface (a TUN device) and forwards IPv6 over IPv4 protocol 41 with explainable filtering (RFC 3964).`,
      footer: [
        ...message`Exit codes: 0 success, 1 the operation failed, 2 a usage or configuration error.`,
        lineBreak(),
        ...message`Shell completions: stf completions bash|zsh|fish (e.g. ${"source <(stf completions bash)"}).`,
      ],
      // The root help lists the commands with one line each; each command's own help has
      // its full synopsis.
      usageLine: [{ type: "argument", metavar: "COMMAND" }, {
        type: "optional",
        terms: [{ type: "argument", metavar: "OPTIONS" }, { type: "ellipsis" }],
      }],
      errorExitCode: 2,
      aboveError: "none",
      stdout: (text: string) => helpTo === "stdout" ? console.log(text) : console.error(text),
      // Optique's own error output is replaced by usageErrorLines(), printed by onError.
      stderr: () => {},
      onError: (_code: number, error: Message) => {
        const text = formatMessage(error, { colors: false, quotes: true });
        for (const line of usageErrorLines(args, text)) console.error(line);
        return onExit(2);
      },
      onShow: (code?: number) => onExit(code ?? 0),
    } as Parameters<typeof runParser>[3],
  );
}

function nonEmpty<T>(list: readonly T[]): readonly T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** Turns the flags of `up`/`run` into configuration overrides (absent flags stay absent). */
function overridesOf(p: Extract<Parsed, { command: "up" | "run" }>): ConfigOverrides {
  const run = p.command === "run" ? p : undefined;
  const iface = {
    name: p.name,
    mtu: p.mtu,
    subnet: p.subnet,
    interfaceId: p.interfaceId,
    owner: p.command === "up" ? p.owner : undefined,
  };
  const sixRd = p.sixRdPrefix === undefined ? undefined : {
    prefix: p.sixRdPrefix,
    ipv4MaskLen: p.sixRdIpv4MaskLength,
    ipv4CommonPrefix: p.sixRdIpv4CommonPrefix,
  };
  const log = run && { level: run.logLevel, format: run.logFormat };
  return prune({
    interface: prune(iface),
    ipv4: p.ipv4 === undefined ? undefined : ipv4SourceFromFlag(p.ipv4),
    allowNonGlobal: p.allowNonGlobal,
    bindIpv4: p.bindIpv4,
    relays: relaysOf(p.relays),
    relayProbeInterval: run?.relayProbeInterval,
    relayProbeFailures: run?.relayProbeFailures,
    relayProbeTarget: run?.relayProbeTarget,
    defaultRoute: p.defaultRoute,
    routes: nonEmpty(p.routes),
    sixRd: sixRd && prune(sixRd),
    mode: run?.mode,
    sitePrefixes: run && nonEmpty(run.sitePrefixes),
    allowPeers: run && nonEmpty(run.allowPeers),
    allowRelays: run && nonEmpty(run.allowRelays),
    strictBogons: run?.strictBogons,
    ttl: run?.ttl,
    dscp: run?.dscp,
    statsInterval: run?.statsInterval,
    user: run?.user,
    metrics: run?.metrics,
    onPrefixChange: run?.onPrefixChange,
    log: log && prune(log),
  }) as ConfigOverrides;
}

/**
 * The `--relay` flags as a list: absent when none is given, empty for a lone `--relay none`.
 *
 * @throws {RangeError} `none` next to an address (exit 2)
 */
function relaysOf(flags: readonly string[]): readonly string[] | undefined {
  if (flags.length === 0) return undefined;
  if (!flags.includes("none")) return flags;
  if (flags.length === 1) return [];
  throw new RangeError(
    "Cannot use --relay none with other --relay addresses: give the relays, or none alone",
  );
}

function prune<T extends Record<string, unknown>>(o: T): T | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? out as T : undefined;
}

/** Options of {@link parseArgs}. */
export interface ParseArgsOptions {
  /** Called instead of `Deno.exit` after help, version, completion or a usage error. */
  readonly onExit?: (code: number) => never;
}

/**
 * Parses the command line. Prints help, the version or a completion script and exits when
 * asked; a usage error prints two lines (the error, then which help to read) and exits 2, and
 * so does a bare `stf` after the short help.
 *
 * @param args the arguments after the program name
 * @param options exit hook for tests
 */
export function parseArgs(given: readonly string[], options: ParseArgsOptions = {}): Invocation {
  const onExit = options.onExit ?? ((code: number) => Deno.exit(code));
  // `deno task stf -- prefix …` and `npm run`-style habits: a leading `--` is not an argument.
  const args = given[0] === "--" ? given.slice(1) : given;
  // Bare `stf`: the short help (the commands), on stderr as a usage error.
  if (args.length === 0) {
    parseRaw(["--help"], () => onExit(2), "stderr");
    return onExit(2);
  }
  const p = parseRaw(args, onExit);
  switch (p.command) {
    case "up":
    case "run":
      return {
        command: p.command,
        config: p.config,
        overrides: overridesOf(p) ?? {},
        dryRun: p.command === "up" ? p.dryRun : false,
        json: p.command === "up" ? p.json : false,
        ...(p.command === "run"
          ? {
            tuning: prune({
              batch: p.batch,
              offload: p.noOffload ? false : undefined,
              queues: p.queues,
            }),
          }
          : {}),
        ...(p.command === "run" && p.controlSocket !== undefined
          ? { controlSocket: p.controlSocket }
          : {}),
      };
    case "doctor":
      return {
        command: "doctor",
        ...(p.config === undefined ? {} : { config: p.config }),
        overrides: prune({
          interface: p.name === undefined ? undefined : { name: p.name },
          ipv4: p.ipv4 === undefined ? undefined : ipv4SourceFromFlag(p.ipv4),
          bindIpv4: p.bindIpv4,
          allowNonGlobal: p.allowNonGlobal,
          relays: relaysOf(p.relays),
          relayProbeTarget: p.relayProbeTarget,
        }) ?? {},
        peers: p.peers,
        timeoutSeconds: p.timeout ?? 3,
        json: p.json,
        ...(p.controlSocket === undefined ? {} : { controlSocket: p.controlSocket }),
      };
    case "down":
      return {
        command: "down",
        config: p.config,
        overrides: p.name === undefined ? {} : { interface: { name: p.name } },
        dryRun: p.dryRun,
        json: p.json,
      };
    default:
      return p as Invocation;
  }
}
