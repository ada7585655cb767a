import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError } from "../../../lib/errors.ts";
import {
  configToDocument,
  configToYaml,
  DEFAULT_CONFIG,
  flagName,
  ipv4SourceFromFlag,
  loadConfig,
  MAX_CONFIG_BYTES,
  mergeConfig,
  parseConfig,
  type StfConfig,
} from "../../../lib/config/mod.ts";
import { runCheckConfig } from "../../../lib/commands/check_config.ts";

const GOOD = new URL("./fixtures/good/", import.meta.url).pathname;
const EXAMPLE = new URL("../../../stf.example.yaml", import.meta.url).pathname;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("no ConfigError thrown");
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(() => assert.fail("accepted"), (e: unknown) => e);
  assert.ok(error instanceof ConfigError, String(error));
  return error;
}

Deno.test("parseConfig() reads an empty file as every default", () => {
  assert.deepEqual(parseConfig(""), DEFAULT_CONFIG);
  assert.deepEqual(parseConfig("# nothing here\n\n"), DEFAULT_CONFIG);
  assert.deepEqual(DEFAULT_CONFIG, {
    interface: { name: "stf0", mtu: 1480, subnet: 0, interfaceId: "::1", owner: null },
    ipv4: "auto",
    allowNonGlobal: false,
    bindIpv4: null,
    mode: "router",
    relays: [],
    relayProbeInterval: 10,
    relayProbeFailures: 3,
    relayProbeTarget: null,
    defaultRoute: false,
    routes: [],
    sitePrefixes: [],
    allowPeers: null,
    allowRelays: null,
    strictBogons: false,
    ttl: 64,
    dscp: "copy",
    sixRd: null,
    log: { level: "info", format: "text" },
    statsInterval: 0,
    metrics: null,
    user: null,
    onPrefixChange: null,
  });
});

Deno.test("DEFAULT_CONFIG is frozen and survives structuredClone", () => {
  assert.ok(Object.isFrozen(DEFAULT_CONFIG) && Object.isFrozen(DEFAULT_CONFIG.interface));
  assert.deepEqual(structuredClone(DEFAULT_CONFIG), DEFAULT_CONFIG);
});

Deno.test("loadConfig() reads the seed's server scenario", async () => {
  const config = await loadConfig(`${GOOD}server.yaml`);
  assert.equal(config.ipv4, "203.0.113.80");
  assert.equal(config.mode, "return-path");
  assert.deepEqual(config.relays, []);
});

Deno.test("loadConfig() reads a home router and keeps addresses in canonical form", async () => {
  const config = await loadConfig(`${GOOD}home_router.yaml`);
  assert.deepEqual(config.interface, {
    name: "stf0",
    mtu: 1480,
    subnet: 1,
    interfaceId: "::1",
    owner: null,
  });
  assert.deepEqual(config.ipv4, { interface: "eth0" });
  assert.deepEqual(config.relays, ["192.0.2.1"]);
  assert.equal(config.defaultRoute, true);
  assert.deepEqual(config.routes, ["2001:db8:ffff::/48"]);
  assert.deepEqual(config.sitePrefixes, ["2001:db8:1::/48"]);
  assert.deepEqual(config.allowPeers, ["198.51.100.0/24", "203.0.113.9/32"]);
  assert.deepEqual(config.allowRelays, ["192.0.2.1/32"]);
  assert.equal(config.ttl, 32);
  assert.equal(config.dscp, "zero");
  assert.deepEqual(config.log, { level: "debug", format: "json" });
  assert.equal(config.statsInterval, 2.5);
  assert.equal(config.metrics, "[::1]:9100");
  assert.equal(config.user, "nobody");
});

Deno.test("loadConfig() reads a 6rd domain with its subnet range", async () => {
  const config = await loadConfig(`${GOOD}sixrd.yaml`);
  assert.deepEqual(config.sixRd, {
    prefix: "2001:db8::/32",
    ipv4MaskLen: 8,
    ipv4CommonPrefix: "198.0.0.0",
  });
  assert.equal(config.interface.subnet, 255);
  assert.equal(config.interface.owner, 1000);
});

Deno.test("stf.example.yaml validates, names its schema first, and is all defaults", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  assert.equal(text.split("\n")[0], "# yaml-language-server: $schema=./schema/stf.schema.json");
  assert.deepEqual(await loadConfig(EXAMPLE), DEFAULT_CONFIG);
});

Deno.test("the scenarios in the comments of stf.example.yaml validate too", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const blocks = text.split("# Example:").slice(1).map((block) =>
    block.split("\n").filter((line) => line.startsWith("#   ")).map((line) => line.slice(4))
      .join("\n")
  );
  assert.equal(blocks.length, 2);
  assert.equal(parseConfig(blocks[0]).mode, "return-path");
  const home = parseConfig(blocks[1]);
  assert.deepEqual(home.ipv4, { interface: "eth0" });
  assert.deepEqual(home.relays, ["192.0.2.1", "198.51.100.99"]);
});

Deno.test("parseConfig() names the file, or <config> when there is none", () => {
  assert.match(configError(() => parseConfig("ttl: 0\n")).message, /^<config>:1:6: ttl: /);
  const error = configError(() => parseConfig("ttl: 0\n", { file: "/etc/stf.yaml" }));
  assert.equal(error.message, "/etc/stf.yaml:1:6: ttl: Cannot use 0: expected 1..255");
  assert.deepEqual([error.file, error.line, error.column], ["/etc/stf.yaml", 1, 6]);
});

Deno.test("parseConfig() accepts an own IPv4 behind NAT only with allow-non-global", () => {
  assert.match(
    configError(() => parseConfig("ipv4: 100.64.0.1\n")).message,
    /shared-address-space.*own-ipv4-not-global/,
  );
  const config = parseConfig("ipv4: 10.0.0.1\nallow-non-global: true\nbind-ipv4: 10.0.0.1\n");
  assert.equal(config.ipv4, "10.0.0.1");
  assert.match(
    configError(() => parseConfig("ipv4: 224.0.0.1\nallow-non-global: true\n")).message,
    /not a unicast address/,
  );
});

Deno.test("parseConfig() refuses a documentation relay only with strict-bogons", () => {
  assert.deepEqual(parseConfig("relay: 192.0.2.1\n").relays, ["192.0.2.1"]);
  assert.match(
    configError(() => parseConfig("relay: 192.0.2.1\nstrict-bogons: true\n")).message,
    /^<config>:1:8: relay: .*in C4 \(documentation, RFC 5737\)/,
  );
  // The relay anycast block stays usable in strict mode: relays live there.
  assert.deepEqual(parseConfig("relay: 192.88.99.1\nstrict-bogons: true\n").relays, [
    "192.88.99.1",
  ]);
});

Deno.test("parseConfig() requires ipv4-common-prefix when ipv4-mask-len is not 0", () => {
  const error = configError(() =>
    parseConfig("6rd:\n  prefix: 2001:db8::/32\n  ipv4-mask-len: 8\n")
  );
  assert.match(error.message, /^<config>:2:3: 6rd: Missing ipv4-common-prefix/);
});

Deno.test("parseConfig() accepts IPv6 metrics addresses and refuses port 0", () => {
  assert.equal(parseConfig("metrics: '[2001:DB8::1]:9100'\n").metrics, "[2001:db8::1]:9100");
  assert.equal(parseConfig("metrics: 127.0.0.1:9100\n").metrics, "127.0.0.1:9100");
  assert.match(configError(() => parseConfig("metrics: 127.0.0.1:0\n")).message, /port/);
  assert.match(configError(() => parseConfig("metrics: 127.0.0.1:65536\n")).message, /port/);
});

Deno.test("parseConfig() counts interface name length in bytes, not characters", () => {
  assert.equal(parseConfig("interface: {name: abcdefghijklmno}\n").interface.name.length, 15);
  assert.match(
    configError(() => parseConfig("interface: {name: tunnelé12345678}\n")).message,
    /16 bytes, maximum is 15/,
  );
  assert.match(configError(() => parseConfig("interface: {name: a/b}\n")).message, /'\/'/);
  assert.match(configError(() => parseConfig("interface: {name: 'a b'}\n")).message, /whitespace/);
});

Deno.test("loadConfig() refuses a missing file with the file and the reason", async () => {
  const error = await rejection(loadConfig("/nonexistent/stf.yaml"));
  assert.equal(error.message, "/nonexistent/stf.yaml: Cannot read configuration: no such file");
  assert.equal(error.file, "/nonexistent/stf.yaml");
  assert.equal(error.line, undefined);
});

Deno.test("loadConfig() refuses a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const error = await rejection(loadConfig(dir));
    assert.equal(error.message, `${dir}: Cannot read configuration: it is a directory`);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("loadConfig() refuses a file it may not read", async () => {
  if (Deno.uid() === 0) {
    // Root reads any file whatever its mode, but not a write-only sysctl.
    const path = "/proc/sys/vm/drop_caches";
    try {
      Deno.statSync(path);
    } catch {
      return;
    }
    const error = await rejection(loadConfig(path));
    assert.equal(error.message, `${path}: Cannot read configuration: permission denied`);
    return;
  }
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.chmod(path, 0o000);
    const error = await rejection(loadConfig(path));
    assert.equal(error.message, `${path}: Cannot read configuration: permission denied`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() refuses a file over 1 MiB, and reads one of exactly 1 MiB", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    const comment = new TextEncoder().encode(`#${"x".repeat(MAX_CONFIG_BYTES - 2)}\n`);
    assert.equal(comment.length, MAX_CONFIG_BYTES);
    await Deno.writeFile(path, comment);
    assert.deepEqual(await loadConfig(path), DEFAULT_CONFIG);
    await Deno.writeFile(path, new TextEncoder().encode("\n"), { append: true });
    const error = await rejection(loadConfig(path));
    assert.equal(
      error.message,
      `${path}: Cannot read configuration: larger than 1048576 bytes (1 MiB)`,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() reads an empty file as every default", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    assert.deepEqual(await loadConfig(path), DEFAULT_CONFIG);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() refuses a file that is not UTF-8", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeFile(path, new Uint8Array([0x6d, 0x6f, 0x64, 0x65, 0x3a, 0x20, 0xff, 0x0a]));
    const error = await rejection(loadConfig(path));
    assert.equal(error.message, `${path}: Cannot read configuration: it is not UTF-8 text`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("configToYaml() output parses back to the same configuration", async () => {
  for (const name of ["server.yaml", "home_router.yaml", "sixrd.yaml"]) {
    const config = await loadConfig(`${GOOD}${name}`);
    assert.deepEqual(parseConfig(configToYaml(config)), config, name);
  }
  assert.deepEqual(parseConfig(configToYaml(DEFAULT_CONFIG)), DEFAULT_CONFIG);
  assert.match(configToYaml(DEFAULT_CONFIG), /^relays: \[\]$/m);
});

Deno.test("configToYaml() round-trips random valid configurations (fast-check)", () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const globalIpv4 = fc.tuple(fc.integer({ min: 1, max: 9 }), octet, octet, octet).map((p) =>
    p.join(".")
  );
  const arbitrary = fc.record({
    interface: fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
      mtu: fc.integer({ min: 1280, max: 1480 }),
      subnet: fc.integer({ min: 0, max: 65535 }),
    }),
    ipv4: fc.oneof(globalIpv4, fc.constant("auto")),
    relays: fc.uniqueArray(globalIpv4, { maxLength: 3 }),
    "relay-probe-interval": fc.integer({ min: 1, max: 3600 }),
    ttl: fc.integer({ min: 1, max: 255 }),
    "allow-peers": fc.option(fc.array(globalIpv4.map((a) => `${a}/32`), { maxLength: 3 })),
    "stats-interval": fc.integer({ min: 0, max: 86400 }),
    dscp: fc.constantFrom("copy", "zero"),
  });
  fc.assert(fc.property(arbitrary, (document) => {
    const config = parseConfig(JSON.stringify(document));
    assert.deepEqual(parseConfig(configToYaml(config)), config);
    assert.deepEqual(structuredClone(config), config);
  }));
});

Deno.test("mergeConfig() lets flags override the file, section by section", async () => {
  const base = await loadConfig(`${GOOD}home_router.yaml`);
  const merged = mergeConfig(base, {
    interface: { mtu: 1400, name: undefined },
    mode: "relay",
    defaultRoute: false,
    relays: ["198.51.100.1", "203.0.113.1"],
    sitePrefixes: ["2001:db8:2::/48"],
    log: { level: "warning" },
    ttl: undefined,
  });
  assert.equal(merged.interface.mtu, 1400);
  assert.equal(merged.interface.name, "stf0");
  assert.equal(merged.interface.subnet, 1);
  assert.equal(merged.mode, "relay");
  assert.equal(merged.defaultRoute, false);
  assert.deepEqual(merged.relays, ["198.51.100.1", "203.0.113.1"]);
  assert.deepEqual(merged.sitePrefixes, ["2001:db8:2::/48"]);
  assert.deepEqual(merged.log, { level: "warning", format: "json" });
  assert.equal(merged.ttl, 32);
  assert.deepEqual(mergeConfig(base, {}), base);
});

Deno.test("mergeConfig() takes an empty relay list for none, and ipv4 as a whole", async () => {
  const base = await loadConfig(`${GOOD}server.yaml`);
  assert.deepEqual(mergeConfig(parseConfig("relay: 192.0.2.1\n"), { relays: [] }).relays, []);
  assert.deepEqual(
    mergeConfig(parseConfig("relays: [192.0.2.1]\n"), { relays: ["192.0.2.2"] }).relays,
    ["192.0.2.2"],
  );
  assert.deepEqual(mergeConfig(base, { ipv4: { interface: "eth1" } }).ipv4, { interface: "eth1" });
  assert.equal(mergeConfig(base, { ipv4: "198.51.100.9" }).ipv4, "198.51.100.9");
  const sixRd = mergeConfig(base, { sixRd: { prefix: "2001:db8::/32" } }).sixRd;
  assert.deepEqual(sixRd, { prefix: "2001:db8::/32", ipv4MaskLen: 0, ipv4CommonPrefix: "0.0.0.0" });
});

Deno.test("mergeConfig() checks flags like the file and names the flag", () => {
  const cases: [Parameters<typeof mergeConfig>[1], string][] = [
    [{ interface: { mtu: 9000 } }, "--mtu: Cannot use 9000: expected 1280..1480 (mtu-out-of-range"],
    [{ interface: { name: "x".repeat(16) } }, "--name: Cannot use"],
    [{ ipv4: "0x7f.0.0.1" }, '--ipv4: Cannot parse "0x7f.0.0.1" as an IPv4 address'],
    [{ relays: ["10.0.0.1"] }, '--relay: Cannot use "10.0.0.1" as the relay: it is in C4'],
    [{ relays: ["192.0.2.1", "192.0.2.1"] }, '--relay: Cannot use "192.0.2.1" as a relay twice'],
    [{ relayProbeInterval: 0 }, "--relay-probe-interval: Cannot use 0: expected more than 0"],
    [{ relayProbeFailures: 0 }, "--relay-probe-failures: Cannot use 0: expected 1..100"],
    [{ relayProbeTarget: "ff02::1" }, '--relay-probe-target: Cannot use "ff02::1" as the relay'],
    [
      { relays: ["192.0.2.1"], relayProbeTarget: "2002:c000:202::" },
      '--relay-probe-target: Cannot use "2002:c000:202::" as the relay probe target of relay ' +
      "192.0.2.1: it is a 6to4 address, answered from 192.0.2.2",
    ],
    [{ sitePrefixes: ["2001:db8::1/32"] }, "--site-prefix: Cannot parse"],
    [{ allowPeers: ["192.0.2.1/24"] }, "--allow-peer: Cannot parse"],
    [{ allowRelays: ["x"] }, "--allow-relay: Cannot parse"],
    [{ log: { level: "loud" as "info" } }, '--log-level: Cannot use "loud"'],
    [{ log: { format: "xml" as "json" } }, '--log-format: Cannot use "xml"'],
    [{ statsInterval: -1 }, "--stats-interval: Cannot use -1"],
    [{ ttl: 0 }, "--ttl: Cannot use 0"],
    [{ mode: "bridge" as "relay" }, '--mode: Cannot use "bridge"'],
    [{ sixRd: { prefix: "2001:db8::/40" } }, "--6rd-prefix: Cannot use 6rd prefix"],
    [{ defaultRoute: true }, "--default-route: Cannot route ::/0 into the tunnel without a relay"],
  ];
  for (const [overrides, expected] of cases) {
    const error = configError(() => mergeConfig(DEFAULT_CONFIG, overrides));
    assert.ok(error.message.startsWith(expected), `${error.message} should start with ${expected}`);
    assert.equal(error.file, undefined);
  }
});

Deno.test("mergeConfig() names the flag that made a key of the file wrong", () => {
  const base = parseConfig("relay: 192.0.2.1\ndefault-route: true\n");
  const error = configError(() => mergeConfig(base, { relays: [] }));
  assert.equal(
    error.message.split(":").slice(0, 2).join(":"),
    "--relay: default-route",
  );
  const mode = configError(() => mergeConfig(base, { mode: "return-path" }));
  assert.match(
    mode.message,
    /^--mode: default-route: Cannot route ::\/0 into the tunnel in return-path/,
  );
  const strict = configError(() => mergeConfig(base, { strictBogons: true }));
  assert.match(
    strict.message,
    /^--strict-bogons: relays\[0\]: Cannot use "192\.0\.2\.1" as the relay/,
  );
});

Deno.test("flagName() gives one name for one thing", () => {
  assert.equal(flagName("interface.mtu"), "--mtu");
  assert.equal(flagName("interface.name"), "--name");
  assert.equal(flagName("site-prefixes"), "--site-prefix");
  assert.equal(flagName("allow-peers"), "--allow-peer");
  assert.equal(flagName("log.level"), "--log-level");
  assert.equal(flagName("6rd.ipv4-mask-len"), "--6rd-ipv4-mask-len");
  assert.equal(flagName("stats-interval"), "--stats-interval");
});

Deno.test("ipv4SourceFromFlag() tells addresses from interface names", () => {
  assert.equal(ipv4SourceFromFlag("auto"), "auto");
  assert.equal(ipv4SourceFromFlag("203.0.113.80"), "203.0.113.80");
  assert.equal(ipv4SourceFromFlag("0x7f.0.0.1"), "0x7f.0.0.1");
  assert.deepEqual(ipv4SourceFromFlag("eth0"), { interface: "eth0" });
  assert.deepEqual(ipv4SourceFromFlag("eth0.100"), { interface: "eth0.100" });
});

Deno.test("runCheckConfig() prints the effective configuration as YAML or JSON", async () => {
  let text = "";
  const write = (chunk: string) => (text += chunk);
  assert.equal(await runCheckConfig({ file: `${GOOD}server.yaml`, json: false, write }), 0);
  const fromYaml = parseConfig(text);
  text = "";
  assert.equal(await runCheckConfig({ file: `${GOOD}server.yaml`, json: true, write }), 0);
  const document = JSON.parse(text);
  assert.equal(document.mode, "return-path");
  assert.equal(document["stats-interval"], 0);
  assert.deepEqual(parseConfig(text), fromYaml);
  assert.deepEqual(configToDocument(fromYaml), document);
});

Deno.test("runCheckConfig() throws ConfigError for a broken file", async () => {
  const error = await rejection(
    runCheckConfig({ file: `${GOOD}../bad/mtu_9000.conf`, json: false, write: () => {} }),
  );
  assert.match(error.message, /mtu_9000\.conf:2:8: interface\.mtu: /);
});

/** Type check: the effective configuration is plain data. */
const _typeCheck: StfConfig = DEFAULT_CONFIG;

Deno.test("parseConfig() refuses a megabyte of nested brackets quickly", () => {
  const n = 500_000;
  const start = performance.now();
  const error = configError(() => parseConfig(`a:\n  b: ${"[".repeat(n)}${"]".repeat(n)}\n`));
  assert.match(
    error.message,
    /^<config>:2:106: Cannot read collections nested more than 100 deep$/,
  );
  assert.ok(performance.now() - start < 1000, `took ${performance.now() - start} ms`);
  // Brackets in quotes and comments do not count.
  const quoted = `"${"[".repeat(200)}"`;
  assert.match(
    configError(() => parseConfig(`# ${"{".repeat(200)}\nrelay: ${quoted}\n`)).message,
    /^<config>:2:8: relay: Cannot parse/,
  );
});

Deno.test("parseConfig() throws only ConfigError, whatever the text (fast-check)", () => {
  const yamlish = fc.string({
    unit: fc.constantFrom(..."abc:-[]{}#&*!|>'\"%@` \n\t0123456789.,/".split("")),
    maxLength: 200,
  });
  fc.assert(
    fc.property(fc.oneof(yamlish, fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      try {
        parseConfig(text);
      } catch (error) {
        assert.ok(error instanceof ConfigError, `${text}: ${error}`);
        assert.match(error.message, /^<config>:\d+:\d+: /);
      }
    }),
    { numRuns: 2000 },
  );
});
