/**
 * `stf run`: the forwarder in the foreground. It attaches to the TUN that `stf up` made (or
 * creates and configures one, removed again on exit), opens the protocol-41 and ICMPv4 raw
 * sockets, and forwards in one Worker per direction until told to stop. SIGHUP reloads the
 * configuration (a broken one is reported and the old one stays); SIGUSR1 prints the counters.
 *
 * @module
 */
import { formatIpv4, parseIpv4 } from "../addr/mod.ts";
import type { StfConfig } from "../config/mod.ts";
import {
  type CounterSnapshot,
  type DataplaneTuning,
  DEFAULT_TUNING,
  type DropSample,
  formatCounters,
  type Forwarder,
  startThreadedForwarder,
} from "../dataplane/mod.ts";
import { OperationError } from "../errors.ts";
import type { PolicySettings } from "../filter/mod.ts";
import { getLogger } from "../log.ts";
import {
  applyInterfacePlan,
  assertMadeByStf,
  attachQueueFilter,
  type HostIpv4Address,
  type InterfacePlan,
  ipv4AddressesOfHost,
  LINK_BUFFER_BYTES,
  loadedKernelTunnelModules,
  openRawLink,
  openSendLink,
  planInterface,
  readInterfaceState,
  readMtu,
  userIdOf,
} from "../netif/mod.ts";
import { IFF_MULTI_QUEUE } from "../../ffi/mod.ts";
import { openIcmpSocket } from "../netif/icmp_socket.ts";
import { openDataplaneTun } from "../netif/offload.ts";
import { dropPrivileges } from "../netif/privileges.ts";
import { interfaceFeatures } from "../netif/ethtool.ts";
import {
  interfaceAddressOf,
  interfaceRequestOf,
  policySettingsOf,
  sixRdDomainOfConfig,
} from "./_settings.ts";
import {
  type ForwarderFacts,
  type Operations,
  sitePrefixText,
  startOperations,
} from "../control/mod.ts";

/** What the running forwarder listens to; `main.ts` wires it to process signals. */
export interface RunControl {
  /** Registers the stop handler (SIGINT, SIGTERM). */
  onStop(handler: () => void): void;
  /** Registers the reload handler (SIGHUP). */
  onReload(handler: () => void): void;
  /** Registers the counters handler (SIGUSR1). */
  onStats(handler: () => void): void;
  /** Loads the configuration again (for a reload). */
  reloadConfig(): Promise<StfConfig>;
  /** The control socket of `stf status` (default `/run/stf/NAME.sock`; null: none). */
  readonly controlSocket?: string | null;
}

const log = getLogger(["stf", "run"]);

/**
 * Prepares the interface for `run` from a plan: attaches to the TUN `stf up` made, or creates
 * a non-persistent one, with `queues` fds in all; then reconciles address, MTU, routes.
 *
 * @param plan the interface plan
 * @param offload whether the data plane uses TUN offloads (`IFF_VNET_HDR`)
 * @param queues the TUN queues to attach (`--queues`)
 * @returns the open TUN, its further queues, whether this process created it, and what was
 *   changed
 * @throws {OperationError} when an interface of that name exists that stf did not make, or a
 *   single-queue one when several queues are asked for
 */
function prepareInterface(plan: InterfacePlan, offload: boolean, queues: number) {
  const before = readInterfaceState(plan.name);
  if (before !== undefined) assertMadeByStf(before, "attach to");
  if (queues > 1 && before?.tunFlags !== undefined && (before.tunFlags & IFF_MULTI_QUEUE) === 0) {
    throw new OperationError(
      `Cannot attach ${queues} queues to "${plan.name}": it is a single-queue TUN device ` +
        `(made by an older stf); remove it with \`stf down\` and let \`stf up\` or ` +
        `\`stf run\` make it again (stf makes multi-queue devices)`,
    );
  }
  const { tun, more, features } = openDataplaneTun(plan.name, {
    existingFlags: before?.tunFlags,
    offload,
    queues,
  });
  try {
    const result = applyInterfacePlan(plan, { tun });
    return { tun, more, features, created: before === undefined, changes: result.changes };
  } catch (e) {
    for (const t of more) t.close();
    tun.close();
    throw e;
  }
}

/**
 * Receive offloads that merge packets in ways stf cannot undo from a raw socket: fraglist GRO
 * keeps the first segment's checksum, UDP GRO loses where datagrams began (README, "The
 * uplink's receive offloads"). Plain GRO, the default, is undone.
 */
export const UNRECOVERABLE_UPLINK_FEATURES: readonly string[] = Object.freeze([
  "rx-gro-list",
  "rx-udp-gro-forwarding",
]);

/**
 * Warns about what the interface holding our outer source address (the uplink, when the
 * host is single-homed) will do to the tunnel: an MTU that cannot carry a full-size packet of
 * the tunnel (its MTU + 20, RFC 4213 §3.2; PPPoE's 1492 under the default 1480: the data plane
 * copes, EMSGSIZE becomes Packet Too Big, at a round trip per peer), and receive offloads from
 * {@link UNRECOVERABLE_UPLINK_FEATURES}. Each warning says what to set.
 */
function checkUplink(settings: PolicySettings, host: readonly HostIpv4Address[]): void {
  const source = parseIpv4(settings.bindIpv4 ?? settings.ipv4);
  const uplink = host.find((a) => a.address === source)?.interface;
  if (uplink === undefined) return;
  // Gone meanwhile, or no ethtool support: nothing to advise about that part.
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  const uplinkMtu = attempt(() => readMtu(uplink));
  const features = attempt(() => interfaceFeatures(uplink));
  if (uplinkMtu !== undefined && settings.mtu + 20 > uplinkMtu) {
    log.warn(
      "MTU {mtu} of the stf interface needs {needed} on {uplink}, which has {uplinkMtu}: " +
        "larger packets are answered with ICMPv6 Packet Too Big; set mtu: {advised} " +
        "(--mtu {advised})",
      {
        mtu: settings.mtu,
        needed: settings.mtu + 20,
        uplink,
        uplinkMtu,
        advised: Math.max(1280, uplinkMtu - 20),
      },
    );
  }
  for (const feature of UNRECOVERABLE_UPLINK_FEATURES) {
    if (features?.get(feature) !== true) continue;
    log.warn(
      "{uplink} has {feature} on: the kernel merges protocol-41 packets in a way stf cannot " +
        "undo, and such packets are lost; turn it off: ethtool -K {uplink} {feature} off",
      { uplink, feature },
    );
  }
}

/**
 * Runs the forwarder until stopped; returns the exit code (0 on a requested stop, 1 when the
 * data plane failed for good, e.g. the TUN was deleted).
 *
 * @param config the effective configuration
 * @param control the signal wiring
 * @throws {PolicyError} a configuration-time check failed (exit 2, nothing changed)
 * @throws {SyscallError} a device could not be opened (EPERM: needs root or CAP_NET_ADMIN)
 */
export async function runForwarder(
  config: StfConfig,
  control: RunControl,
  tuning: Partial<DataplaneTuning> = {},
): Promise<number> {
  const host = ipv4AddressesOfHost();
  const plan = planInterface(interfaceRequestOf(config), { ipv4Addresses: host, userIdOf });
  let settings: PolicySettings = policySettingsOf(config, plan, host);
  for (const module of loadedKernelTunnelModules()) {
    log.warn("The kernel module {module} is loaded: it may claim protocol 41 before stf", {
      module,
    });
  }
  checkUplink(settings, host);
  const queues = Math.max(1, Math.floor(tuning.queues ?? 1));
  // Per queue: a receiving protocol-41 socket (with its share of the packets when there are
  // several), a sending socket, an ICMPv4 socket (each egress Worker keeps its own path MTU
  // table) and a TUN queue.
  using sockets = new DisposableStack();
  const offload = tuning.offload ?? DEFAULT_TUNING.offload;
  // Larger buffers for the bursts of batches and super-packets.
  const bufferBytes = (tuning.batch ?? DEFAULT_TUNING.batch) > 1 || offload
    ? LINK_BUFFER_BYTES
    : undefined;
  const links = Array.from({ length: queues }, (_, q) => {
    const link = sockets.use(openRawLink({ nonBlocking: true, bufferBytes }));
    if (queues > 1) attachQueueFilter(link, q, queues);
    return {
      link,
      sender: sockets.use(openSendLink({ nonBlocking: true, bufferBytes })),
      icmp: sockets.use(openIcmpSocket()),
    };
  });
  const { tun, more, features, created, changes } = prepareInterface(plan, offload, queues);
  using _tun = tun;
  using _more = new DisposableStack();
  for (const t of more) _more.use(t);
  log.info("Interface {name}: {action}", {
    name: plan.name,
    action: created ? "created for this run" : "attached (made by stf up)",
    changes: changes.map((c) => c.kind),
    queues,
  });

  let fatal: string | undefined;
  let operations: Operations | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const forwarder: Forwarder = await startThreadedForwarder(
    {
      tunName: tun.name,
      tunFeatures: features,
      tunFd: tun.fd,
      linkFd: links[0].link.fd,
      sendFd: links[0].sender.fd,
      icmpFd: links[0].icmp.fd,
      moreQueues: more.map((t, i) => ({
        tunFd: t.fd,
        linkFd: links[i + 1].link.fd,
        sendFd: links[i + 1].sender.fd,
        icmpFd: links[i + 1].icmp.fd,
      })),
    },
    {
      settings,
      icmpSource: interfaceAddressOf(plan),
      onDrop: log.isEnabledFor("debug") ? (sample: DropSample) => logDrop(sample) : undefined,
      tuning,
      onFatal: (message) => {
        fatal ??= message;
        wake();
      },
    },
  );
  const facts = (s: PolicySettings): ForwarderFacts => ({
    mode: s.mode,
    ipv4: s.ipv4,
    address: `${interfaceAddressOf(plan)}/${plan.prefixLength}`,
    prefix: sitePrefixText(plan.ipv4, sixRdDomainOfConfig(config)),
  });
  const report = (event: string) => printCounters(forwarder.counters(), config, event);
  control.onStop(() => wake());
  control.onStats(() => report("stats"));
  control.onReload(() => {
    log.info("Reloading the configuration (SIGHUP)");
    control.reloadConfig().then((next) => {
      const nextPlan = planInterface(interfaceRequestOf(next), {
        ipv4Addresses: ipv4AddressesOfHost(),
        userIdOf,
      });
      if (nextPlan.name !== plan.name) {
        throw new RangeError(
          `Cannot rename the interface from "${plan.name}" to "${nextPlan.name}" on reload: ` +
            `restart stf`,
        );
      }
      const address = interfaceAddressOf(plan);
      if (interfaceAddressOf(nextPlan) !== address) {
        throw new RangeError(
          `Cannot change the address of "${plan.name}" from ${address} to ` +
            `${interfaceAddressOf(nextPlan)} on reload: restart stf`,
        );
      }
      const nextSettings = policySettingsOf(next, nextPlan, ipv4AddressesOfHost());
      forwarder.reload(nextSettings); // validates first: throws and changes nothing when bad
      settings = nextSettings;
      // Then the interface follows the file too (MTU, address, routes), never torn down.
      const reconciled = applyInterfacePlan(nextPlan, { tun });
      if (reconciled.changes.length > 0) {
        log.info("Interface {name} reconciled: {changes}", {
          name: plan.name,
          changes: reconciled.changes.map((c) => c.description).join("; "),
        });
      }
      operations?.reloaded(facts(settings));
      log.info("Configuration reloaded: mode {mode}, relay {relay}", {
        mode: settings.mode,
        relay: settings.relay ?? "none",
      });
    }).catch((e) => {
      log.error("Configuration not reloaded, the previous one stays in force: {error}", {
        error: e instanceof Error ? e.message : String(e),
      });
    });
  });
  try {
    operations = await startOperations({
      name: plan.name,
      facts: facts(settings),
      counters: () => forwarder.counters(),
      queueCounters: () => forwarder.queueCounters(),
      healthy: () => fatal === undefined,
      metrics: config.metrics,
      ...(control.controlSocket === undefined ? {} : { controlSocket: control.controlSocket }),
      onWarning: (message) => log.warn("{message}", { message }),
    });
  } catch (e) {
    await forwarder.stop();
    throw e;
  }
  if (config.user !== null) {
    // Everything that needs privileges is open (TUN, raw sockets, metrics port, control
    // socket); the Workers keep their fds. setuid applies to every thread of the process.
    try {
      const who = dropPrivileges(config.user);
      log.info("Dropped root: now user {user} (uid {uid}, gid {gid})", {
        user: who.name,
        uid: who.uid,
        gid: who.gid,
      });
    } catch (e) {
      await operations?.close();
      await forwarder.stop();
      throw e;
    }
  }
  // Logged once every handler is in place: from here a signal is acted on.
  log.info("Forwarding on {name}: {address}, own IPv4 {ipv4}, mode {mode}", {
    name: plan.name,
    address: interfaceAddressOf(plan),
    ipv4: settings.ipv4,
    mode: settings.mode,
    relay: settings.relay ?? "none",
  });

  const interval = config.statsInterval > 0
    ? setInterval(() => report("stats"), config.statsInterval * 1000)
    : undefined;

  const health = setInterval(watchHealth(forwarder, () => settings), 1000);

  await stopped;
  operations?.stopping();
  clearInterval(health);
  if (interval !== undefined) clearInterval(interval);
  await forwarder.stop();
  await operations?.close();
  report("final");
  if (fatal !== undefined) {
    throw new OperationError(`Forwarding stopped: ${fatal}`);
  }
  log.info("Stopped; {name} {fate}", {
    name: plan.name,
    fate: created ? "removed" : "left as stf up made it",
  });
  return 0;
}

/**
 * Returns a once-a-second check that logs what the counters cannot say by themselves: packets
 * the kernel refused (I/O errors: the IPv4 address gone, a firewall rule, no route), and our
 * IPv4 address leaving or coming back to the host. At most one line per second per kind.
 *
 * @param forwarder the running forwarder
 * @param settings the settings in force (own and bind address)
 */
function watchHealth(forwarder: Forwarder, settings: () => PolicySettings): () => void {
  let lastErrors = { egress: 0, ingress: 0 };
  let addressPresent = true;
  return () => {
    const counters = forwarder.counters();
    for (const direction of ["egress", "ingress"] as const) {
      const now = counters[direction].ioErrors;
      const delta = now - lastErrors[direction];
      if (delta > 0) {
        log.warn(
          "{count} {direction} packets refused by the kernel in the last second (I/O errors, {total} in all)",
          { count: delta, direction, total: now },
        );
      }
    }
    lastErrors = { egress: counters.egress.ioErrors, ingress: counters.ingress.ioErrors };
    const local = settings().bindIpv4 ?? settings().ipv4;
    const present = ipv4AddressesOfHost().some((a) => formatIpv4(a.address) === local);
    if (present !== addressPresent) {
      addressPresent = present;
      if (present) log.info("The IPv4 address {address} is back on this host", { address: local });
      else {
        log.warn(
          "The IPv4 address {address} is gone from this host: sends will fail until it is back",
          {
            address: local,
          },
        );
      }
    }
  };
}

function logDrop(sample: DropSample): void {
  log.debug("Dropped {direction} packet: {reason}", { ...sample });
}

/**
 * Prints the counters: text on stdout, or one JSON object per line when logs are JSON.
 *
 * @param snapshot the counters
 * @param config the configuration (log format)
 * @param event why they are printed (`stats`, `final`)
 */
export function printCounters(snapshot: CounterSnapshot, config: StfConfig, event: string): void {
  if (config.log.format === "json") {
    console.log(
      JSON.stringify({ event: `counters.${event}`, time: new Date().toISOString(), ...snapshot }),
    );
  } else {
    console.log(`Counters (${event}):\n${formatCounters(snapshot)}`);
  }
}
