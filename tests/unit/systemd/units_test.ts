import assert from "node:assert/strict";

const ROOT = new URL("../../../", import.meta.url).pathname;
const UNITS = ["stf.service", "stf-up.service"];

type Unit = Map<string, Map<string, string[]>>;

/** Parses a unit file (systemd.syntax(7)): sections, `Key=value`, comments, no continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    assert.ok(!line.endsWith("\\"), `line ${i + 1}: no continuation lines expected`);
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      assert.ok(!unit.has(header[1]), `line ${i + 1}: section [${header[1]}] twice`);
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    assert.ok(pair !== null && section !== undefined, `line ${i + 1}: not Key=value: ${line}`);
    section.set(pair[1], [...section.get(pair[1]) ?? [], pair[2]]);
  }
  return unit;
}

function read(name: string): Unit {
  return parseUnit(Deno.readTextFileSync(`${ROOT}systemd/${name}`));
}

function one(unit: Unit, section: string, key: string): string {
  const values = unit.get(section)?.get(key);
  assert.ok(values !== undefined && values.length === 1, `[${section}] ${key}= once`);
  return values[0];
}

Deno.test("systemd/stf.service runs stf run as Type=notify with the watchdog and two capabilities", () => {
  const unit = read("stf.service");
  assert.equal(one(unit, "Service", "Type"), "notify");
  assert.equal(
    one(unit, "Service", "ExecStart"),
    "/usr/local/bin/stf run --config /etc/stf/stf.yaml",
  );
  assert.equal(one(unit, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.equal(one(unit, "Service", "WatchdogSec"), "30");
  assert.equal(one(unit, "Service", "CapabilityBoundingSet"), "CAP_NET_ADMIN CAP_NET_RAW");
  assert.equal(one(unit, "Service", "AmbientCapabilities"), "CAP_NET_ADMIN CAP_NET_RAW");
  assert.equal(one(unit, "Service", "NoNewPrivileges"), "yes");
  assert.equal(one(unit, "Service", "RuntimeDirectory"), "stf");
  assert.equal(one(unit, "Install", "WantedBy"), "multi-user.target");
});

Deno.test("systemd/stf-up.service is a oneshot that stays active and runs stf down on stop", () => {
  const unit = read("stf-up.service");
  assert.equal(one(unit, "Service", "Type"), "oneshot");
  assert.equal(one(unit, "Service", "RemainAfterExit"), "yes");
  assert.equal(
    one(unit, "Service", "ExecStart"),
    "/usr/local/bin/stf up --config /etc/stf/stf.yaml",
  );
  assert.equal(
    one(unit, "Service", "ExecStop"),
    "/usr/local/bin/stf down --config /etc/stf/stf.yaml",
  );
  assert.match(one(unit, "Unit", "Before"), /\bstf\.service\b/);
});

Deno.test("the units leave /dev/net/tun reachable and the sysfs/procfs files stf writes writable", () => {
  for (const name of UNITS) {
    const service = read(name).get("Service")!;
    // PrivateDevices=yes would hide /dev/net/tun; ProtectKernelTunables=yes would make
    // /sys/class/net/NAME/ifalias and /proc/sys/net/ipv6/conf/NAME/addr_gen_mode read-only.
    assert.notEqual(service.get("PrivateDevices")?.[0], "yes", name);
    assert.notEqual(service.get("ProtectKernelTunables")?.[0], "yes", name);
    assert.notEqual(service.get("MemoryDenyWriteExecute")?.[0], "yes", `${name}: V8 JIT`);
    assert.deepEqual(service.get("DeviceAllow"), ["/dev/net/tun rw"], name);
    const families = (service.get("RestrictAddressFamilies")?.[0] ?? "").split(" ");
    for (const family of ["AF_UNIX", "AF_INET", "AF_INET6"]) {
      assert.ok(families.includes(family), `${name}: ${family}`);
    }
  }
});

function systemdAnalyzeUnavailable(): string | undefined {
  try {
    const out = new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync();
    return out.success ? undefined : "systemd-analyze --version failed";
  } catch {
    return "systemd-analyze is not installed (Debian package systemd)";
  }
}

const noAnalyze = systemdAnalyzeUnavailable();
if (noAnalyze !== undefined) {
  console.error(`%cSkipping unit verification: ${noAnalyze}`, "color: yellow");
}

Deno.test({
  name: "systemd-analyze verify accepts both units without a warning",
  ignore: noAnalyze !== undefined && Deno.env.get("STF_REQUIRE_LAB") !== "1",
  fn: () => {
    if (noAnalyze !== undefined) throw new Error(`Cannot verify the units: ${noAnalyze}`);
    const dir = Deno.makeTempDirSync({ prefix: "stf-units-" });
    try {
      // verify insists that ExecStart= names an executable: stand in /bin/true for stf.
      const paths = UNITS.map((name) => {
        const text = Deno.readTextFileSync(`${ROOT}systemd/${name}`);
        Deno.writeTextFileSync(
          `${dir}/${name}`,
          text.replaceAll("/usr/local/bin/stf", "/bin/true"),
        );
        return `${dir}/${name}`;
      });
      const out = new Deno.Command("systemd-analyze", { args: ["verify", ...paths] }).outputSync();
      const messages = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, messages);
      assert.equal(messages.trim(), "");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
