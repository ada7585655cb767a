/**
 * The configuration schema: zod 4 strict objects over the YAML document (kebab-case keys, as
 * the CLI flags), each address or prefix checked by the strict parsers of `lib/addr` and kept
 * as its canonical string, then the cross-field checks, then the conversion to the camelCase
 * {@link StfConfig}.
 *
 * @module
 */

import { z } from "zod";
import {
  classifyIpv4,
  delegatedPrefixLength,
  formatIpv4,
  formatIpv4Prefix,
  formatIpv6,
  formatIpv6Prefix,
  ipv4Mask,
  isMartianIpv4,
  isNonGlobalSixToFourIpv4,
  parseIpv4,
  parseIpv4Prefix,
  parseIpv6,
  parseIpv6Prefix,
  validateSixRdDomain,
} from "../addr/mod.ts";
import { MAX_TUNNEL_MTU, MIN_TUNNEL_MTU } from "../packet/path_mtu.ts";

/** Forwarding mode (docs/filtering.md, "Modes"). */
export type Mode = "router" | "return-path" | "relay";
/** What happens to the DSCP bits of the outer header (RFC 4213 §3.5). */
export type Dscp = "copy" | "zero";
/** Log level names, as LogTape spells them. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";
/** Log output format. */
export type LogFormat = "text" | "json";

/**
 * Where the own IPv4 address comes from: a canonical dotted quad, `"auto"` (the address of
 * the interface of the IPv4 default route), or the address of a named interface.
 */
export type Ipv4Source = string | { readonly interface: string };

/** The `interface` section: the TUN interface. */
export interface InterfaceConfig {
  /** Interface name, at most 15 bytes. */
  readonly name: string;
  /** Tunnel MTU, 1280..1480 (RFC 4213 §3.2). */
  readonly mtu: number;
  /** Subnet ID of the interface address inside the site prefix. */
  readonly subnet: number;
  /** Canonical IPv6 address whose low 64 bits are the interface ID (`::1`). */
  readonly interfaceId: string;
  /** User name or uid given the TUN with `TUNSETOWNER`, or `null`. */
  readonly owner: string | number | null;
}

/** The `6rd` section (RFC 5969 §4). */
export interface SixRdConfig {
  /** The 6rd prefix, canonical (`2001:db8::/32`). */
  readonly prefix: string;
  /** High-order IPv4 bits common to the domain and so not embedded, 0..32. */
  readonly ipv4MaskLen: number;
  /** Those common bits as a canonical dotted quad (`0.0.0.0` when the mask length is 0). */
  readonly ipv4CommonPrefix: string;
}

/** The `log` section. */
export interface LogConfig {
  /** The lowest level logged. */
  readonly level: LogLevel;
  /** Text lines or JSON lines. */
  readonly format: LogFormat;
}

/**
 * The effective configuration: the YAML keys in camelCase (`6rd` is `sixRd`), every address
 * and prefix as its canonical string, `relay: none` as `relays: []`. Plain data: it can be
 * structured-cloned (to Workers) and printed.
 */
export interface StfConfig {
  /** The TUN interface. */
  readonly interface: InterfaceConfig;
  /** The own IPv4 address, or where to find it. */
  readonly ipv4: Ipv4Source;
  /** Allow an own IPv4 in C4 or `100.64.0.0/10` (behind NAT; `own-ipv4-not-global`). */
  readonly allowNonGlobal: boolean;
  /** A local address to bind when `ipv4` is the public one behind NAT, or `null`. */
  readonly bindIpv4: string | null;
  /** Forwarding mode. */
  readonly mode: Mode;
  /**
   * The relays' IPv4 addresses in order of preference (the first one that answers its probes
   * carries the traffic), empty for none: never a default (RFC 7526 §5).
   */
  readonly relays: readonly string[];
  /** Seconds between two probes of a relay (jittered by ±10 %), more than 0. */
  readonly relayProbeInterval: number;
  /** Probes lost in a row after which a relay is down. */
  readonly relayProbeFailures: number;
  /** The native IPv6 address probed through each relay, or `null` for the relay's 2002:V4::. */
  readonly relayProbeTarget: string | null;
  /** Route `::/0` into the tunnel (needs a relay). */
  readonly defaultRoute: boolean;
  /** Extra IPv6 prefixes routed into the tunnel. */
  readonly routes: readonly string[];
  /** Our native IPv6 prefixes (`inner-src-own-prefix`, `inner-dst-not-ours`). */
  readonly sitePrefixes: readonly string[];
  /** IPv4 prefixes of the accepted peers, or `null` for no list (`peer-not-allowed`). */
  readonly allowPeers: readonly string[] | null;
  /** IPv4 prefixes of the accepted relays, or `null` for off (`relay-not-allowed`). */
  readonly allowRelays: readonly string[] | null;
  /** Add the RFC 6890 non-global blocks to C4. */
  readonly strictBogons: boolean;
  /** TTL of the outer header, 1..255. */
  readonly ttl: number;
  /** DSCP of the outer header: copied from the inner packet, or zero. */
  readonly dscp: Dscp;
  /** The 6rd domain, or `null` for plain 6to4. */
  readonly sixRd: SixRdConfig | null;
  /** Logging. */
  readonly log: LogConfig;
  /** Seconds between counter reports, 0 for none. */
  readonly statsInterval: number;
  /** `ADDR:PORT` of the Prometheus endpoint, or `null` for none. */
  readonly metrics: string | null;
  /** The user to switch to after opening the devices, or `null` to stay. */
  readonly user: string | number | null;
  /** The executable run when the own IPv4 address, and so the site prefix, changed. */
  readonly onPrefixChange: string | null;
}

// ---------------------------------------------------------------------------------------------
// Values: each parsed by lib/addr (strict) and kept as its canonical text.

/** Runs a parser on a string; its error message becomes the zod issue. */
function canonical(parse: (text: string) => string) {
  return (text: string, ctx: z.core.$RefinementCtx<string>): string => {
    try {
      return parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxError || error instanceof RangeError)) throw error;
      ctx.issues.push({ code: "custom", message: error.message, input: text });
      return z.NEVER;
    }
  };
}

function canonicalIpv4(text: string): string {
  return formatIpv4(parseIpv4(text));
}

/** An IPv4 address in strict dotted-quad form. */
function ipv4Address() {
  return z.string().transform(canonical(canonicalIpv4)).meta({ format: "ipv4" });
}

/** An IPv4 prefix `A.B.C.D/LEN` (a bare address is a /32); host bits refused. */
function ipv4Prefix() {
  return z.string().transform(
    canonical((text) => formatIpv4Prefix(parseIpv4Prefix(text, { allowBare: true }))),
  ).meta({ description: "An IPv4 prefix A.B.C.D/LEN (a bare address is a /32)" });
}

/** An IPv6 prefix `ADDRESS/LEN`; host bits refused. */
function ipv6Prefix() {
  return z.string().transform(canonical((text) => formatIpv6Prefix(parseIpv6Prefix(text))))
    .meta({ description: "An IPv6 prefix ADDRESS/LEN" });
}

/** An integer in `min..max`, with the range (and why, when `why` is given) in its message. */
function integer(min: number, max: number, why = "") {
  const message = (issue: { input?: unknown }) =>
    `Cannot use ${String(issue.input)}: expected ${min}..${max}${why}`;
  return z.int().min(min, { error: message }).max(max, { error: message });
}

const INTERFACE_NAME_MAX_BYTES = 15; // IFNAMSIZ - 1

function checkInterfaceName(name: string): string {
  const bytes = new TextEncoder().encode(name).length;
  if (name === "" || name === "." || name === "..") {
    throw new SyntaxError(`Cannot use "${name}" as an interface name`);
  }
  if (bytes > INTERFACE_NAME_MAX_BYTES) {
    throw new SyntaxError(
      `Cannot use "${name}" as an interface name: ${bytes} bytes, maximum is ${INTERFACE_NAME_MAX_BYTES}`,
    );
  }
  // The kernel refuses these (dev_valid_name in net/core/dev.c).
  if (/[/:\s]/.test(name)) {
    throw new SyntaxError(
      `Cannot use "${name}" as an interface name: it contains '/', ':' or whitespace`,
    );
  }
  return name;
}

function interfaceName(description: string) {
  return z.string().transform(canonical(checkInterfaceName)).meta({
    title: "interface name",
    description,
  });
}

/** A user: a name as `useradd` accepts it, or a numeric uid. */
function userOrUid(description: string) {
  const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}\$?$/, {
    error: (issue) => `Cannot use "${String(issue.input)}" as a user name`,
  });
  return z.union([name, integer(0, 4294967294), z.null()]).default(null).meta({ description });
}

function checkInterfaceId(text: string): string {
  const address = parseIpv6(text);
  if (address.subarray(0, 8).some((b) => b !== 0)) {
    throw new RangeError(
      `Cannot use "${text}" as an interface ID: its upper 64 bits must be zero (like "::1")`,
    );
  }
  return formatIpv6(address);
}

function checkMetrics(text: string): string {
  const match = /^(?:\[([^\]]+)\]|([0-9.]+)):(0|[1-9][0-9]{0,4})$/.exec(text);
  const fail = () =>
    new SyntaxError(
      `Cannot use "${text}" as a metrics address: expected IPV4:PORT or [IPV6]:PORT`,
    );
  if (match === null) throw fail();
  const port = Number(match[3]);
  if (port < 1 || port > 65535) {
    throw new RangeError(`Cannot use "${text}" as a metrics address: port must be 1..65535`);
  }
  if (match[1] !== undefined) return `[${formatIpv6(parseIpv6(match[1]))}]:${port}`;
  return `${canonicalIpv4(match[2])}:${port}`;
}

function checkProbeTarget(text: string): string {
  const address = parseIpv6(text);
  const first = address[0];
  const unspecifiedOrLoopback = address.subarray(0, 15).every((b) => b === 0) &&
    address[15] <= 1;
  if (unspecifiedOrLoopback || first === 0xff || (first === 0xfe && (address[1] & 0xc0) === 0x80)) {
    throw new RangeError(
      `Cannot use "${text}" as the relay probe target: expected a global unicast IPv6 address ` +
        "that answers ICMPv6 Echo (not unspecified, loopback, link-local or multicast)",
    );
  }
  return formatIpv6(address);
}

function checkIpv4Source(text: string): string {
  return text === "auto" ? text : canonicalIpv4(text);
}

// ---------------------------------------------------------------------------------------------
// The document.

const interfaceSection = z.strictObject({
  name: interfaceName("Name of the TUN interface (at most 15 bytes)").default("stf0"),
  mtu: integer(MIN_TUNNEL_MTU, MAX_TUNNEL_MTU, " (mtu-out-of-range, RFC 4213 §3.2)")
    .default(MAX_TUNNEL_MTU).meta({
      description: `Tunnel MTU: ${MIN_TUNNEL_MTU}..${MAX_TUNNEL_MTU}, the IPv4 MTU of 1500 ` +
        "less 20 bytes (RFC 4213 §3.2)",
    }),
  subnet: integer(0, 65535).default(0).meta({
    description: "Subnet ID of the interface address inside the site's /48 (6to4) or the 6rd " +
      "delegated prefix",
  }),
  "interface-id": z.string().transform(canonical(checkInterfaceId)).default("::1").meta({
    title: "IPv6 address",
    description: "An IPv6 address whose low 64 bits are the interface ID of the interface " +
      "address",
  }),
  owner: userOrUid("User name or uid that may open the TUN (TUNSETOWNER), null for root only"),
}).meta({ description: "The TUN interface" });

const ipv4Section = z.union([
  z.string().transform(canonical(checkIpv4Source)).meta({
    description: 'An IPv4 address, or "auto" for the address of the default route\'s interface',
  }),
  z.strictObject({
    interface: interfaceName("Use the (single global) IPv4 address of this interface"),
  }),
]).default("auto").meta({
  title: "IPv4 address, `auto` or {interface: NAME}",
  description: 'Own public IPv4 address: an address, "auto", or {interface: NAME}',
  default: "auto",
});

const sixRdSection = z.strictObject({
  prefix: ipv6Prefix().meta({
    title: "IPv6 prefix",
    description: "The 6rd prefix of the provider",
  }),
  "ipv4-mask-len": integer(0, 32).default(0).meta({
    description: "High-order IPv4 bits common to the whole domain and not embedded",
  }),
  "ipv4-common-prefix": ipv4Address().optional().meta({
    description: "Those common bits, as an IPv4 address (needed when ipv4-mask-len is not 0)",
  }),
}).nullable().default(null).meta({
  description: "6rd domain (RFC 5969 §4), null for plain 6to4",
});

const logSection = z.strictObject({
  level: z.enum(["trace", "debug", "info", "warning", "error", "fatal"]).default("info").meta({
    description: "The lowest level logged",
  }),
  format: z.enum(["text", "json"]).default("text").meta({
    description: "Text lines or JSON lines (counters too)",
  }),
}).meta({ description: "Logging" });

const documentSchema = z.strictObject({
  interface: interfaceSection.prefault({}),
  ipv4: ipv4Section,
  "allow-non-global": z.boolean().default(false).meta({
    description: "Allow an own IPv4 in C4 or 100.64.0.0/10, behind NAT (own-ipv4-not-global, " +
      "RFC 3056 §2)",
  }),
  "bind-ipv4": ipv4Address().nullable().default(null).meta({
    description: "A local IPv4 address to bind when ipv4 is the public address of a NAT " +
      "(own-ipv4-not-local)",
  }),
  mode: z.enum(["router", "return-path", "relay"]).default("router").meta({
    description: "router: a 6to4 site; return-path: a native server answering 6to4 clients " +
      "directly; relay: 6to4 <-> native IPv6 (RFC 3056 §5)",
  }),
  relay: z.string().transform(canonical((text) => text === "none" ? text : canonicalIpv4(text)))
    .optional().meta({
      title: "IPv4 address or `none`",
      description: 'One relay, or "none": the same as relays: [ADDRESS] or relays: [] (the ' +
        "older spelling; never a default, RFC 7526 §5)",
    }),
  relays: z.array(ipv4Address()).optional().meta({
    title: "list of IPv4 addresses",
    description: "IPv4 addresses of the relays for native destinations, in order of " +
      "preference: the first that answers its probes carries the traffic; [] for none, never " +
      "a default (RFC 7526 §5)",
  }),
  "relay-probe-interval": z.number().gt(0, {
    error: (issue) => `Cannot use ${String(issue.input)}: expected more than 0 seconds`,
  }).max(3600, {
    error: (issue) => `Cannot use ${String(issue.input)}: expected at most 3600 seconds`,
  }).default(10).meta({
    description: "Seconds between two probes of each relay (ICMPv6 Echo through it), with " +
      "±10 % jitter",
  }),
  "relay-probe-failures": integer(1, 100).default(3).meta({
    description: "Probes lost in a row after which a relay is down (2 answered bring it back up)",
  }),
  "relay-probe-target": z.string().transform(canonical(checkProbeTarget)).nullable()
    .default(null).meta({
      title: "IPv6 address or null",
      description: "A native IPv6 address that answers ICMPv6 Echo, probed through each " +
        "relay; null for each relay's own 6to4 address 2002:V4:: (RFC 3068 §2.5)",
    }),
  "default-route": z.boolean().default(false).meta({
    description: "Route ::/0 into the tunnel, towards the relay (router mode, needs a relay)",
  }),
  routes: z.array(ipv6Prefix()).default([]).meta({
    title: "list of IPv6 prefixes",
    description: "Extra IPv6 prefixes routed into the tunnel",
  }),
  "site-prefixes": z.array(ipv6Prefix()).default([]).meta({
    title: "list of IPv6 prefixes",
    description: "Our native IPv6 prefixes: never accepted as a decapsulated source " +
      "(inner-src-own-prefix)",
  }),
  "allow-peers": z.array(ipv4Prefix()).nullable().default(null).meta({
    title: "list of IPv4 prefixes or null",
    description: "IPv4 prefixes of the peers accepted, null for any (peer-not-allowed)",
  }),
  "allow-relays": z.array(ipv4Prefix()).nullable().default(null).meta({
    title: "list of IPv4 prefixes or null",
    description: "IPv4 prefixes of the relays accepted for native sources, null for any " +
      "(relay-not-allowed)",
  }),
  "strict-bogons": z.boolean().default(false).meta({
    description: "Add the RFC 6890 non-global blocks (documentation, 100.64.0.0/10, ...) to C4",
  }),
  ttl: integer(1, 255).default(64).meta({ description: "TTL of the outer IPv4 header" }),
  dscp: z.enum(["copy", "zero"]).default("copy").meta({
    description: "DSCP of the outer header: copied from the inner packet, or zero " +
      "(RFC 4213 §3.5)",
  }),
  "6rd": sixRdSection,
  log: logSection.prefault({}),
  "stats-interval": z.number().min(0, {
    error: (issue) => `Cannot use ${String(issue.input)}: expected 0 or more seconds`,
  }).max(86400, {
    error: (issue) => `Cannot use ${String(issue.input)}: expected at most 86400 seconds`,
  }).default(0).meta({ description: "Seconds between counter reports, 0 for none" }),
  metrics: z.string().transform(canonical(checkMetrics)).nullable().default(null).meta({
    title: "IPV4:PORT or [IPV6]:PORT or null",
    description: "IPV4:PORT or [IPV6]:PORT of the Prometheus endpoint, null for none",
  }),
  user: userOrUid("User name or uid to switch to after opening the devices, null to stay root"),
  "on-prefix-change": z.string().min(1, { error: "Cannot use an empty path" }).nullable()
    .default(null).meta({
      title: "path or null",
      description: "Executable run after the own IPv4 address changed: arguments OLD_PREFIX " +
        "NEW_PREFIX, environment STF_OLD_PREFIX, STF_NEW_PREFIX, STF_OLD_IPV4, STF_NEW_IPV4, " +
        "STF_INTERFACE; null for none",
    }),
});

/** The YAML document after field checks, before the cross-field checks. */
type Document = z.output<typeof documentSchema>;

// ---------------------------------------------------------------------------------------------
// Cross-field checks.

function blockName(address: number): string {
  const block = classifyIpv4(address);
  return block === undefined ? "" : ` (${block.name}, ${block.rfc})`;
}

function crossCheck(doc: Document, ctx: z.core.$RefinementCtx<Document>): void {
  const push = (path: (string | number)[], message: string, related: string[] = []) =>
    ctx.issues.push({ code: "custom", path, message, input: undefined, params: { related } });

  const own = typeof doc.ipv4 === "string" && doc.ipv4 !== "auto" ? parseIpv4(doc.ipv4) : null;
  if (own !== null) {
    const top = own >>> 24;
    if (top === 0 || top >= 224) {
      push(
        ["ipv4"],
        `Cannot use "${doc.ipv4}" as the own IPv4 address: it is not a unicast address${
          blockName(own)
        }`,
      );
    } else if (isNonGlobalSixToFourIpv4(own) && !doc["allow-non-global"]) {
      // RFC 3056 §2 and RFC 6343 §4.1: a 6to4 prefix is only reachable from a global address.
      push(
        ["ipv4"],
        `Cannot use "${doc.ipv4}" as the own IPv4 address: it is not global${blockName(own)}; ` +
          "behind NAT, set allow-non-global: true (own-ipv4-not-global, RFC 3056 §2)",
        ["allow-non-global"],
      );
    }
  }

  // relays: wins; relay: is the older spelling of a list of one. Problems point at the key used.
  if (doc.relay !== undefined && doc.relays !== undefined) {
    push(["relay"], "Cannot use both relay and relays: list every relay under relays", [
      "relays",
    ]);
  }
  const fromList = doc.relays !== undefined;
  const relays = relaysOf(doc);
  const relayPath = (i: number) => fromList ? ["relays", i] : ["relay"];
  relays.forEach((text, i) => {
    const relay = parseIpv4(text);
    // Packets to it would all be dropped as dst-ipv4-invalid (RFC 3056 §9, RFC 3964 §4.1.4).
    if (isMartianIpv4(relay, doc["strict-bogons"])) {
      push(
        relayPath(i),
        `Cannot use "${text}" as the relay: it is in C4${
          blockName(relay)
        }, so every packet to it would be dropped (dst-ipv4-invalid, RFC 3056 §9)`,
        ["strict-bogons"],
      );
    } else if (own !== null && relay === own) {
      // It would send the packets to ourselves (dst-own-ipv4, RFC 3964 §5.1).
      push(relayPath(i), `Cannot use "${text}" as the relay: it is the own IPv4 address`, [
        "ipv4",
      ]);
    } else if (relays.indexOf(text) !== i) {
      push(relayPath(i), `Cannot use "${text}" as a relay twice: list each relay once`);
    }
  });
  const target = doc["relay-probe-target"];
  if (target !== null) {
    const address = parseIpv6(target);
    if (address[0] === 0x20 && address[1] === 0x02) {
      // A 6to4 target answers from its own IPv4, straight to us (RFC 3056 §5.3): the reply
      // would not come through the relay probed, unless the target is that relay itself.
      const embedded = formatIpv4(
        ((address[2] << 24) | (address[3] << 16) | (address[4] << 8) | address[5]) >>> 0,
      );
      const other = relays.find((relay) => relay !== embedded);
      if (other !== undefined) {
        push(
          ["relay-probe-target"],
          `Cannot use "${target}" as the relay probe target of relay ${other}: it is a 6to4 ` +
            `address, answered from ${embedded} and not through the relay; give a native IPv6 ` +
            "address, or none to probe each relay's own 2002:V4::",
          [fromList ? "relays" : "relay"],
        );
      }
    }
  }
  if (doc["default-route"] && doc.mode !== "router") {
    // A return-path server would lose its native IPv6 routes; a relay would loop.
    push(
      ["default-route"],
      `Cannot route ::/0 into the tunnel in ${doc.mode} mode: only a router sends native ` +
        "traffic to a relay",
      ["mode"],
    );
  } else if (doc["default-route"] && relays.length === 0) {
    push(
      ["default-route"],
      "Cannot route ::/0 into the tunnel without a relay: set relays to a list of IPv4 " +
        "addresses (RFC 7526 §5: there is no default relay)",
      ["relay", "relays"],
    );
  }

  const sixRd = doc["6rd"];
  let delegated = 48;
  if (sixRd !== null) {
    const maskLength = sixRd["ipv4-mask-len"];
    const commonText = sixRd["ipv4-common-prefix"];
    let common = 0;
    if (commonText === undefined) {
      if (maskLength > 0) {
        push(
          ["6rd"],
          `Missing ipv4-common-prefix: needed when ipv4-mask-len is ${maskLength}`,
          ["6rd.ipv4-mask-len"],
        );
      }
    } else {
      common = parseIpv4(commonText);
      const masked = (common & ipv4Mask(maskLength)) >>> 0;
      if (masked !== common) {
        push(
          ["6rd", "ipv4-common-prefix"],
          `Cannot use "${commonText}" with ipv4-mask-len ${maskLength}: bits beyond the mask ` +
            `are set (did you mean "${formatIpv4(masked)}"?)`,
          ["6rd.ipv4-mask-len"],
        );
      }
    }
    const domain = {
      prefix: parseIpv6Prefix(sixRd.prefix),
      ipv4MaskLength: maskLength,
      ipv4CommonPrefix: common,
    };
    delegated = delegatedPrefixLength(domain);
    try {
      validateSixRdDomain(domain);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // RFC 5969 §4: the delegated prefix must leave room for a /64.
      const message = error.message.endsWith(" (RFC 5969 §4)")
        ? error.message.replace(/ \(RFC 5969 §4\)$/, " (6rd-prefix-too-long, RFC 5969 §4)")
        : `${error.message} (6rd-prefix-too-long, RFC 5969 §4)`;
      push(["6rd", "prefix"], message, ["6rd.ipv4-mask-len"]);
      delegated = 64;
    }
  }
  const subnetBits = 64 - delegated;
  const maxSubnet = 2 ** subnetBits - 1;
  if (doc.interface.subnet > maxSubnet) {
    push(
      ["interface", "subnet"],
      `Cannot use subnet ID ${doc.interface.subnet}: a /${delegated} delegated prefix leaves ` +
        `${subnetBits} bits, maximum is ${maxSubnet}`,
      ["6rd"],
    );
  }
}

/** The relays of a document: `relays:`, else `relay:` as a list of one (none: empty). */
function relaysOf(doc: Document): readonly string[] {
  if (doc.relays !== undefined) return doc.relays;
  return doc.relay === undefined || doc.relay === "none" ? [] : [doc.relay];
}

/** Converts `kebab-key` to `kebabKey`, and `6rd` to `sixRd`. */
export function camelKey(key: string): string {
  if (key === "6rd") return "sixRd";
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Converts `camelKey` to `camel-key`, and `sixRd` to `6rd`. */
export function kebabKey(key: string): string {
  if (key === "sixRd") return "6rd";
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function toEffective(doc: Document): StfConfig {
  const sixRd = doc["6rd"];
  return {
    interface: {
      name: doc.interface.name,
      mtu: doc.interface.mtu,
      subnet: doc.interface.subnet,
      interfaceId: doc.interface["interface-id"],
      owner: doc.interface.owner,
    },
    ipv4: doc.ipv4,
    allowNonGlobal: doc["allow-non-global"],
    bindIpv4: doc["bind-ipv4"],
    mode: doc.mode,
    relays: relaysOf(doc),
    relayProbeInterval: doc["relay-probe-interval"],
    relayProbeFailures: doc["relay-probe-failures"],
    relayProbeTarget: doc["relay-probe-target"],
    defaultRoute: doc["default-route"],
    routes: doc.routes,
    sitePrefixes: doc["site-prefixes"],
    allowPeers: doc["allow-peers"],
    allowRelays: doc["allow-relays"],
    strictBogons: doc["strict-bogons"],
    ttl: doc.ttl,
    dscp: doc.dscp,
    sixRd: sixRd === null ? null : {
      prefix: sixRd.prefix,
      ipv4MaskLen: sixRd["ipv4-mask-len"],
      ipv4CommonPrefix: sixRd["ipv4-common-prefix"] ?? "0.0.0.0",
    },
    log: { level: doc.log.level, format: doc.log.format },
    statsInterval: doc["stats-interval"],
    metrics: doc.metrics,
    user: doc.user,
    onPrefixChange: doc["on-prefix-change"],
  };
}

/**
 * The whole schema: the YAML document (kebab-case keys) in, the {@link StfConfig} out.
 * Use {@link parseConfig} rather than this directly: it maps issues to file positions.
 */
export const CONFIG_SCHEMA = documentSchema
  // A transform, not a refinement: it runs only when every field is valid, so a value out of
  // range is reported once, by its field.
  .transform((doc, ctx) => {
    crossCheck(doc, ctx);
    return doc;
  })
  .transform(toEffective)
  .meta({
    title: "stf configuration",
    description: "Configuration of stf, a userspace 6to4 (RFC 3056) and 6rd (RFC 5969) tunnel",
  });

/** The keys each mapping of the document accepts, by path (`""` is the top level). */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "": Object.keys(documentSchema.shape),
  interface: Object.keys(interfaceSection.shape),
  ipv4: ["interface"],
  "6rd": Object.keys(sixRdSection.unwrap().unwrap().shape),
  log: Object.keys(logSection.shape),
});
