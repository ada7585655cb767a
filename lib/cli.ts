/**
 * The command-line definition: all of Optique is here (STYLE.md habit 9). It turns argv into
 * a plain, typed {@link Invocation}; the actions in `lib/commands/` never see Optique.
 *
 * @module
 */
import {
  argument,
  command,
  constant,
  integer,
  lineBreak,
  type Message,
  message,
  object,
  option,
  optional,
  or,
  string,
  text,
} from "@optique/core";
import { runParser } from "@optique/core/facade";
import type { DecodeOptions } from "./commands/decode.ts";
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

const parser = or(prefixCommand, decodeCommand);

/** A parsed command line: which command, with its options as plain values. */
export type Invocation =
  | ({ readonly command: "prefix" } & PrefixOptions)
  | ({ readonly command: "decode" } & DecodeOptions);

/** Options of {@link parseArgs}. */
export interface ParseArgsOptions {
  /** Called instead of `Deno.exit` after help, version, completion or a usage error. */
  readonly onExit?: (code: number) => never;
}

/**
 * Parses the command line. Prints help, the version or a completion script and exits when
 * asked; a usage error prints the usage and exits 2.
 *
 * @param args the arguments after the program name
 * @param options exit hook for tests
 */
export function parseArgs(args: readonly string[], options: ParseArgsOptions = {}): Invocation {
  const onExit = options.onExit ?? ((code: number) => Deno.exit(code));
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
      errorExitCode: 2,
      aboveError: "usage",
      stdout: (text) => console.log(text),
      stderr: (text) => console.error(text),
      onError: () => onExit(2),
      onShow: (code?: number) => onExit(code ?? 0),
    } as Parameters<typeof runParser>[3],
  ) as Invocation;
}
