/**
 * `deno task test`: installs what the tests need when it can (Debian packages, as root), says
 * what it cannot, then runs `deno test`. Extra arguments are passed to `deno test` (e.g. a
 * path or `--filter`).
 *
 * @module
 */

/** Debian packages the tests use, and the command that shows each is present. */
const PACKAGES: readonly { pkg: string; probe: string }[] = [
  { pkg: "ipv6calc", probe: "ipv6calc" },
  { pkg: "iproute2", probe: "ip" },
  { pkg: "ethtool", probe: "ethtool" },
  { pkg: "iputils-ping", probe: "ping" },
  { pkg: "tcpdump", probe: "tcpdump" },
  { pkg: "tshark", probe: "tshark" },
  { pkg: "python3-scapy", probe: "/usr/lib/python3/dist-packages/scapy/__init__.py" },
  { pkg: "iperf3", probe: "iperf3" },
  { pkg: "socat", probe: "socat" },
  { pkg: "nftables", probe: "nft" },
  { pkg: "util-linux", probe: "setpriv" },
  { pkg: "libcap2-bin", probe: "setcap" },
  { pkg: "prometheus", probe: "promtool" },
  { pkg: "python3-yaml", probe: "/usr/lib/python3/dist-packages/yaml/__init__.py" },
  { pkg: "zsh", probe: "zsh" },
  { pkg: "fish", probe: "fish" },
];

function present(probe: string): boolean {
  if (probe.startsWith("/")) {
    try {
      Deno.statSync(probe);
      return true;
    } catch {
      return false;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat("/usr/sbin", "/sbin")) {
    try {
      Deno.statSync(`${dir}/${probe}`);
      return true;
    } catch { /* next */ }
  }
  return false;
}

async function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "inherit", stderr: "inherit" })
    .output();
  return out.success;
}

const missing = PACKAGES.filter((p) => !present(p.probe)).map((p) => p.pkg);
if (missing.length > 0) {
  const debian = (() => {
    try {
      Deno.statSync("/etc/debian_version");
      return true;
    } catch {
      return false;
    }
  })();
  if (debian && Deno.uid() === 0) {
    console.error(`stf tests: installing missing Debian packages: ${missing.join(" ")}`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await sh("apt-get", ["update", "-qq"], env);
    if (
      !await sh("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], env)
    ) {
      console.error("stf tests: apt-get install failed; the tests that need them will say so");
    }
  } else {
    console.error(
      `stf tests: missing ${missing.join(", ")} (not root on Debian, so not installed); ` +
        `the tests that need them are skipped unless STF_REQUIRE_LAB=1`,
    );
  }
}

const extra = Deno.args.length > 0 ? Deno.args : ["tests/"];
const test = new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", ...extra],
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await test.output();
Deno.exit(code);
