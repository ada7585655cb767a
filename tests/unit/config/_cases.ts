/**
 * The broken configuration fixtures (fixtures/bad/*.conf) and where each one's first problem
 * is, shared by the in-process and the command-line tests.
 *
 * @module
 */

/** Expected first problem: line, column, path (`undefined`: none) and a part of the message. */
export type Expected = readonly [
  line: number,
  column: number,
  path: string | undefined,
  text: string,
];

/** Every broken fixture and where its first problem is. */
export const CASES: Readonly<Record<string, Expected>> = {
  // YAML itself.
  syntax_unclosed_flow: [2, 1, "routes[0]", "Flow sequence in block collection must be"],
  tab_indentation: [2, 1, undefined, "Tabs are not allowed as indentation"],
  duplicate_keys: [3, 1, "mode", "Map keys must be unique"],
  several_documents: [2, 1, undefined, "Cannot use several YAML documents"],
  unknown_tag: [1, 6, "ttl", "Unresolved tag: !seconds"],
  alias_bomb: [2, 8, undefined, "Cannot expand the aliases of this file"],
  nesting_bomb: [1, 109, undefined, "Cannot read collections nested more than 100 deep"],
  scalar_top_level: [1, 1, "(top level)", 'Expected a mapping, got "just a string"'],
  list_top_level: [1, 1, "(top level)", "Expected a mapping, got a list"],
  // Types.
  mtu_string: [2, 8, "interface.mtu", 'Expected a number, got "1400"'],
  boolean_yes: [1, 16, "strict-bogons", 'Expected true or false, got "yes"'],
  interface_null: [1, 1, "interface", "Expected a mapping, got null"],
  routes_not_a_list: [1, 9, "routes", 'Expected a list, got "2001:db8::/32"'],
  allow_relays_not_list: [1, 15, "allow-relays", 'Expected a list, got "192.0.2.0/24"'],
  relay_wrong_type: [1, 8, "relay", "Expected a string, got 1"],
  ipv4_mapping_wrong_type: [1, 19, "ipv4.interface", "Expected a string, got a list"],
  // Unknown keys, at each level.
  unknown_key_top: [
    2,
    1,
    "site_prefixes",
    'Unknown key "site_prefixes" (did you mean "site-prefixes"?)',
  ],
  unknown_key_interface: [3, 3, "interface.mut", 'Unknown key "mut" (did you mean "mtu"?)'],
  unknown_key_log: [3, 3, "log.colour", 'Unknown key "colour"'],
  unknown_key_6rd: [3, 3, "6rd.mask", 'Unknown key "mask"'],
  unknown_key_ipv4: [3, 3, "ipv4.family", 'Unknown key "family"'],
  sixrd_missing_prefix: [1, 1, "6rd.prefix", "Missing key: expected a string"],
  // Addresses and prefixes.
  ipv4_hexadecimal: [1, 7, "ipv4", 'Cannot parse "0x7f.0.0.1" as an IPv4 address'],
  ipv4_leading_zero: [1, 7, "ipv4", 'Cannot parse "203.0.113.080" as an IPv4 address'],
  bind_ipv4_bad: [1, 12, "bind-ipv4", 'Cannot parse "203.0.113.256" as an IPv4 address'],
  relay_hostname: [1, 8, "relay", 'Cannot parse "relay.example.net" as an IPv4 address'],
  ipv6_prefix_host_bits: [
    3,
    5,
    "site-prefixes[1]",
    'host bits are set (did you mean "2001:db8::/32"?)',
  ],
  ipv4_prefix_host_bits: [
    1,
    15,
    "allow-peers[0]",
    'host bits are set (did you mean "192.0.2.0/24"?)',
  ],
  interface_id_with_prefix: [2, 17, "interface.interface-id", "upper 64 bits must be zero"],
  metrics_without_port: [1, 10, "metrics", 'Cannot use "127.0.0.1" as a metrics address'],
  own_ipv4_private: [1, 7, "ipv4", "own-ipv4-not-global"],
  // Ranges and enumerations.
  mtu_9000: [2, 8, "interface.mtu", "Cannot use 9000: expected 1280..1480 (mtu-out-of-range"],
  mtu_1279: [1, 19, "interface.mtu", "Cannot use 1279: expected 1280..1480 (mtu-out-of-range"],
  ttl_0: [1, 6, "ttl", "Cannot use 0: expected 1..255"],
  ttl_256: [1, 6, "ttl", "Cannot use 256: expected 1..255"],
  subnet_65536: [2, 11, "interface.subnet", "Cannot use 65536: expected 0..65535"],
  name_too_long: [2, 9, "interface.name", "18 bytes, maximum is 15"],
  owner_bad_name: [2, 10, "interface.owner", 'Cannot use "bad user" as a user name'],
  stats_interval_negative: [1, 17, "stats-interval", "Cannot use -5: expected 0 or more seconds"],
  mode_unknown: [1, 7, "mode", 'Cannot use "bridge": expected one of router, return-path, relay'],
  dscp_unknown: [1, 7, "dscp", 'Cannot use "keep": expected one of copy, zero'],
  log_level_unknown: [2, 10, "log.level", 'Cannot use "verbose": expected one of trace, debug'],
  // Across keys.
  relay_private: [2, 8, "relay", "in C4 (private, RFC 1918)"],
  relay_multicast: [1, 8, "relay", "in C4 (multicast, RFC 5771)"],
  default_route_without_relay: [2, 16, "default-route", "without a relay"],
  default_route_return_path: [3, 16, "default-route", "in return-path mode"],
  relay_is_own_ipv4: [2, 8, "relay", "it is the own IPv4 address"],
  relays_private: [3, 5, "relays[1]", '"10.1.2.3" as the relay: it is in C4 (private, RFC 1918)'],
  relay_and_relays: [1, 8, "relay", "Cannot use both relay and relays"],
  relay_probe_interval_0: [2, 23, "relay-probe-interval", "Cannot use 0: expected more than 0"],
  relay_probe_target_6to4: [
    2,
    21,
    "relay-probe-target",
    "of relay 198.51.100.1: it is a 6to4 address, answered from 192.0.2.1",
  ],
  sixrd_too_long: [2, 11, "6rd.prefix", "would be /68, longer than /64 (6rd-prefix-too-long"],
  sixrd_common_prefix_host_bits: [4, 23, "6rd.ipv4-common-prefix", 'did you mean "10.0.0.0"?'],
  subnet_too_big_for_6rd: [2, 11, "interface.subnet", "a /64 delegated prefix leaves 0 bits"],
  several_problems: [2, 8, "interface.mtu", "Cannot use 9000"],
};
