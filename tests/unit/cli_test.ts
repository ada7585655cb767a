import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function stf(...args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("stf prefix 192.0.2.1 prints 2002:c000:201::/48", async () => {
  const r = await stf("prefix", "192.0.2.1");
  assert.equal(r.stdout, "2002:c000:201::/48\n");
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
});

Deno.test("stf prefix --subnet 1 --interface-id ::1 prints the /64 and the address", async () => {
  const r = await stf("prefix", "192.0.2.1", "--subnet", "1", "--interface-id", "::1");
  assert.equal(r.stdout, "2002:c000:201:1::/64 2002:c000:201:1::1\n");
  const j = await stf("prefix", "192.0.2.1", "--subnet", "1", "--interface-id", "::1", "--json");
  assert.deepEqual(JSON.parse(j.stdout), {
    ipv4: "192.0.2.1",
    prefix: "2002:c000:201:1::/64",
    prefixLength: 64,
    kind: "6to4",
    subnet: 1,
    address: "2002:c000:201:1::1",
  });
});

Deno.test("stf prefix computes 6rd prefixes and refuses those longer than /64", async () => {
  const r = await stf(
    "prefix",
    "10.100.100.1",
    "--6rd-prefix",
    "2001:db8::/32",
    "--6rd-ipv4-mask-len",
    "8",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    ipv4: "10.100.100.1",
    prefix: "2001:db8:6464:100::/56",
    prefixLength: 56,
    kind: "6rd",
  });
  const long = await stf("prefix", "10.100.100.1", "--6rd-prefix", "2001:db8::/48");
  assert.equal(long.code, 2);
  assert.match(long.stderr, /\/80, longer than \/64 \(RFC 5969 §4\)/);
});

Deno.test("stf prefix refuses a non-global IPv4 for 6to4 with exit 2, naming class and RFC", async () => {
  for (
    const [v4, cls, rfc] of [
      ["10.0.0.1", "private", "RFC 1918"],
      ["100.64.1.1", "shared-address-space", "RFC 6598"],
      ["169.254.1.1", "link-local", "RFC 3927"],
      ["224.0.0.1", "multicast", "RFC 5771"],
    ]
  ) {
    const r = await stf("prefix", v4);
    assert.equal(r.code, 2, v4); // a usage error, as for up and run
    assert.match(r.stderr, /^Error: /);
    assert.equal(r.stdout, "");
    assert.ok(r.stderr.includes(`"${v4}"`) && r.stderr.includes(cls) && r.stderr.includes(rfc));
    assert.equal(r.stderr.trim().split("\n").length, 1, "one line, no stack");
  }
  const allowed = await stf("prefix", "10.0.0.1", "--allow-non-global");
  assert.equal(allowed.stdout, "2002:a00:1::/48\n");
});

Deno.test("stf prefix refuses input that is not an address with exit 2 and one line", async () => {
  for (const bad of ["192.0.2.256", "0x7f.0.0.1", "01.2.3.4", "1.2.3", " 1.2.3.4", "1.2.3.4/24"]) {
    const r = await stf("prefix", bad);
    assert.equal(r.code, 2, bad);
    assert.equal(r.stderr, `Error: Cannot parse "${bad}" as an IPv4 address\n`);
    assert.equal(r.stdout, "");
  }
});

Deno.test("stf prefix INTERFACE gives that interface's addresses; an unknown one exits 1", async () => {
  const lo = await stf("prefix", "lo", "--allow-non-global");
  assert.equal(lo.stdout, "2002:7f00:1::/48\n");
  const none = await stf("prefix", "nosuchif0");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^Error: Cannot find an IPv4 address on interface "nosuchif0"/);
});

Deno.test("stf decode prints the embedded IPv4; --json adds subnet, interface ID, class", async () => {
  const r = await stf("decode", "2002:c000:201::1");
  assert.equal(r.stdout, "192.0.2.1\n");
  assert.equal(r.code, 0);
  const j = await stf("decode", "2002:c633:640a:7::1:2", "--json");
  assert.deepEqual(JSON.parse(j.stdout), {
    input: "2002:c633:640a:7::1:2",
    kind: "6to4",
    ipv4: "198.51.100.10",
    ipv4Class: "documentation",
    ipv4ClassRfc: "RFC 5737",
    ipv4Global: true,
    prefix: "2002:c633:640a::/48",
    subnet: 7,
    interfaceId: "::1:2",
  });
  const p = await stf("decode", "2002:c000:201::/48");
  assert.equal(p.stdout, "192.0.2.1\n");
});

Deno.test("stf decode exits 1 for an address outside 2002::/16, 2 for one that is not IPv6", async () => {
  const r = await stf("decode", "2001:db8::1");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: Cannot decode "2001:db8::1": not a 6to4 address/);
  const bad = await stf("decode", "2002:zz::1");
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'Error: Cannot parse "2002:zz::1" as an IPv6 address\n');
  const host = await stf("decode", "2002:c000:201::1/48");
  assert.equal(host.code, 2);
  assert.match(host.stderr, /host bits are set/);
});

Deno.test("stf decode warns on stderr when the embedded IPv4 is not global", async () => {
  const r = await stf("decode", "2002:a00:1::1");
  assert.equal(r.stdout, "10.0.0.1\n");
  assert.match(r.stderr, /^Warning: 10\.0\.0\.1 is a private address \(RFC 1918\)/);
  assert.equal(r.code, 0);
});

Deno.test("stf decode reads 6rd addresses with the domain's common IPv4 prefix", async () => {
  const r = await stf(
    "decode",
    "2001:db8:6464:100::1",
    "--6rd-prefix",
    "2001:db8::/32",
    "--6rd-ipv4-mask-len",
    "8",
    "--6rd-ipv4-common-prefix",
    "10.0.0.0",
  );
  assert.equal(r.stdout, "10.100.100.1\n");
});

Deno.test("stf --help, <command> --help and --version print and exit 0", async () => {
  const help = await stf("--help");
  assert.equal(help.code, 0);
  for (const c of ["prefix", "decode", "completions"]) assert.ok(help.stdout.includes(c), c);
  const sub = await stf("prefix", "--help");
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /--interface-id IID/);
  assert.ok(sub.stdout.includes("Examples:\n  stf prefix 192.0.2.1"));
  const version = await stf("--version");
  const meta = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(version.stdout.trim(), meta.version);
});

Deno.test("stf with an unknown option prints the error and the help to read, and exits 2", async () => {
  const r = await stf("prefix", "192.0.2.1", "--bogus");
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'Error: Unexpected option `--bogus` for stf prefix.\nRun "stf prefix --help" for its usage.\n',
  );
  assert.equal(r.stdout, "");
});

Deno.test("a usage error is two lines: the error with a suggestion, then the help to read", async () => {
  const cases: [string[], string, string][] = [
    [["prefx", "1.2.3.4"], "Did you mean `prefix`?", 'Run "stf --help" for the commands.'],
    [["prefix", "1.2.3.4", "--subnt", "1"], "Did you mean `--subnet`?", "stf prefix --help"],
    [["prefix", "1.2.3.4", "--jsn"], "Did you mean `--json`?", "stf prefix --help"],
    [["run", "--mod", "relay"], "Did you mean `--mode`", "stf run --help"],
    [["prefix", "1.2.3.4", "--mode", "x"], "It is an option of stf run.", "stf prefix --help"],
    [["prefix"], "Missing the argument IPV4|INTERFACE|auto.", "stf prefix --help"],
  ];
  for (const [args, error, help] of cases) {
    const r = await stf(...args);
    assert.equal(r.code, 2, args.join(" "));
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    assert.ok(lines[0].startsWith("Error: ") && lines[0].includes(error), r.stderr);
    assert.ok(lines[1].includes(help), r.stderr);
  }
});

Deno.test("bare stf shows the short help on stderr and exits 2", async () => {
  const r = await stf();
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  for (const c of ["prefix", "decode", "up", "down", "run", "check-config", "status"]) {
    assert.match(r.stderr, new RegExp(`^  ${c} `, "m"), c);
  }
  assert.ok(r.stderr.split("\n").length < 30, r.stderr);
  assert.doesNotMatch(r.stderr, /No matching command/);
});

Deno.test("a leading -- is not an argument (deno task stf -- prefix …)", async () => {
  const r = await stf("--", "prefix", "192.0.2.1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "2002:c000:201::/48\n");
});

Deno.test("flag errors start with Error: and name the flag, not the config key, as the fix", async () => {
  const mtu = await stf("up", "--ipv4", "198.51.100.1", "--mtu", "9000", "--dry-run");
  assert.equal(mtu.code, 2);
  assert.equal(
    mtu.stderr,
    "Error: --mtu: Cannot use 9000: expected 1280..1480 (mtu-out-of-range, RFC 4213 §3.2)\n",
  );
  const ipv4 = await stf("up", "--ipv4", "10.0.0.1", "--dry-run");
  assert.equal(ipv4.code, 2);
  assert.match(ipv4.stderr, /^Error: --ipv4: .*use --allow-non-global \(own-ipv4-not-global/);
  assert.doesNotMatch(ipv4.stderr, /allow-non-global: true/);
  // A file's problem keeps the file's words and its position.
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/stf.yaml`, "ipv4: 10.0.0.1\n");
    const file = await stf("up", "--config", `${dir}/stf.yaml`, "--dry-run");
    assert.equal(file.code, 2);
    assert.match(file.stderr, /^.*stf\.yaml:1:7: ipv4: .*set allow-non-global: true/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("stf completions bash|zsh|fish print a script for each shell", async () => {
  const markers: Record<string, RegExp> = {
    bash: /complete -F _stf/,
    zsh: /#compdef stf|compdef _stf/,
    fish: /complete -c stf/,
  };
  for (const [shell, marker] of Object.entries(markers)) {
    const r = await stf("completions", shell);
    assert.equal(r.code, 0, shell);
    assert.match(r.stdout, marker, shell);
  }
});

Deno.test("stf run takes --relay repeated, in order, and --relay none alone", async () => {
  const { parseArgs } = await import("../../lib/cli.ts");
  const run = parseArgs(["run", "--relay", "192.0.2.1", "--relay", "198.51.100.9"]);
  assert.ok(run.command === "run");
  assert.deepEqual(run.overrides.relays, ["192.0.2.1", "198.51.100.9"]);
  const none = parseArgs(["run", "--relay", "none"]);
  assert.ok(none.command === "run");
  assert.deepEqual(none.overrides.relays, []);
  const probe = parseArgs(["run", "--relay-probe-interval", "1.5", "--relay-probe-failures", "2"]);
  assert.ok(probe.command === "run");
  assert.equal(probe.overrides.relayProbeInterval, 1.5);
  assert.equal(probe.overrides.relayProbeFailures, 2);
});

Deno.test("stf run refuses a martian relay, a zero probe interval and a 6to4 probe target (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["--relay", "10.0.0.1"],
      /^Error: --relay: Cannot use "10\.0\.0\.1" as the relay: it is in C4/,
    ],
    [["--relay", "192.0.2.1", "--relay", "none"], /^Error: Cannot use --relay none with other/],
    [
      ["--relay", "192.0.2.1", "--relay-probe-interval", "0"],
      /^Error: --relay-probe-interval: Cannot use 0/,
    ],
    [
      ["--relay", "192.0.2.1", "--relay-probe-target", "2002:cb00:7101::1"],
      /^Error: --relay-probe-target: Cannot use "2002:cb00:7101::1" as the relay probe target of relay 192\.0\.2\.1: it is a 6to4 address/,
    ],
  ];
  for (const [args, expected] of cases) {
    const r = await stf("run", "--ipv4", "198.51.100.1", ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
