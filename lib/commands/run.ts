/**
 * `stf run`: the forwarder in the foreground. It attaches to the TUN that `stf up` made (or
 * creates and configures one, removed again on exit), opens the protocol-41 and ICMPv4 raw
 * sockets, and forwards in one Worker per direction until told to stop. SIGHUP reloads the
 * configuration (a broken one is reported and the old one stays); SIGUSR2 prints the counters.
 * The own IPv4 address is followed from rtnetlink events (`_follow.ts`): a new one re-addresses
 * the interface and swaps the policy, a missing one pauses egress.
 *
 * `runForwarder` reads as its steps, each a function below: plan, warn, open, start (the
 * Workers, the relay probes, then the control socket and metrics), follow (the own IPv4
 * address, from rtnetlink events: `_follow.ts`), drop privileges, supervise, reload (on SIGHUP,
 * in turn with the address steps), stop.
 *
 * @module
 */
import { formatIpv4, parseIpv4, parseIpv6 } from "../addr/mod.ts";
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
  type Change,
  type HostIpv4Address,
  type InterfacePlan,
  ipv4AddressesOfHost,
  LINK_BUFFER_BYTES,
  loadedKernelTunnelModules,
  openRawLink,
  openSendLink,
  planInterface,
  readInterfaceState,
  type SocketHandle,
  type TunHandle,
  userIdOf,
} from "../netif/mod.ts";
import { IFF_MULTI_QUEUE } from "../../ffi/mod.ts";
import { openIcmpSocket } from "../netif/icmp_socket.ts";
import { openDataplaneTun, type TunOffloadState } from "../netif/offload.ts";
import { dropPrivileges } from "../netif/privileges.ts";
import { attachIngressFilter } from "../netif/probe_socket.ts";
import { readUplinkFacts } from "../netif/uplink.ts";
import { newProbeIdentifier } from "../relay/probe.ts";
import { RELAY_TICK_MS, type RelaySupervision, startRelaySupervision } from "./_relays.ts";
import { interfaceAddressOf, interfaceRequestOf, policySettingsOf } from "./settings.ts";
import { OwnIpv4Follower } from "./_follow.ts";
import { type ForwarderFacts, type Operations, startOperations } from "../control/mod.ts";

/**
 * The process signals `run` acts on, wired by `main.ts` (the only place for signal
 * handlers), with how to load the configuration again and the control socket asked on the
 * command line. (Not to be confused with the control socket itself, `lib/control/`, nor the
 * Workers' shared stop flag.)
 */
export interface RunSignals {
  /** Registers the stop handler (SIGINT, SIGTERM). */
  onStop(handler: () => void): void;
  /** Registers the reload handler (SIGHUP). */
  onReload(handler: () => void): void;
  /** Registers the counters handler (SIGUSR2). */
  onStats(handler: () => void): void;
  /** Loads the configuration again (for a reload). */
  reloadConfig(): Promise<StfConfig>;
  /**
   * The control socket of `stf status` (default `/run/stf/NAME.sock`, per network namespace:
   * `defaultControlSocketPaths`; null: none).
   */
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
 * Warns about what the interface holding our outer source address (the uplink, when the
 * host is single-homed) will do to the tunnel (read by `lib/netif/uplink.ts`, as `stf doctor`
 * reads it): an MTU that cannot carry a full-size packet of the tunnel (its MTU + 20, RFC 4213
 * §3.2; PPPoE's 1492 under the default 1480: the data plane copes, EMSGSIZE becomes Packet
 * Too Big, at a round trip per peer), and receive offloads stf cannot undo. Each warning says
 * what to set.
 */
function checkUplink(settings: PolicySettings, host: readonly HostIpv4Address[]): void {
  const facts = readUplinkFacts(parseIpv4(settings.bindIpv4 ?? settings.ipv4), settings.mtu, host);
  if (facts.uplink === undefined) return;
  if (facts.advisedMtu !== undefined) {
    log.warn(
      "MTU {mtu} of the stf interface needs {needed} on {uplink}, which has {uplinkMtu}: " +
        "larger packets are answered with ICMPv6 Packet Too Big; set mtu: {advised} " +
        "(--mtu {advised})",
      {
        mtu: settings.mtu,
        needed: facts.neededMtu,
        uplink: facts.uplink,
        uplinkMtu: facts.uplinkMtu,
        advised: facts.advisedMtu,
      },
    );
  }
  for (const feature of facts.badFeatures) {
    log.warn(
      "{uplink} has {feature} on: the kernel merges protocol-41 packets in a way stf cannot " +
        "undo, and such packets are lost; turn it off: ethtool -K {uplink} {feature} off",
      { uplink: facts.uplink, feature },
    );
  }
}

/** What `run` decided before touching anything (step "plan"). */
interface RunPlan {
  /** The effective configuration. */
  readonly config: StfConfig;
  /** The interface: name, address, MTU, routes. */
  readonly interface: InterfacePlan;
  /** The policy settings it starts with. */
  readonly settings: PolicySettings;
  /** The IPv4 addresses of the host when planned. */
  readonly host: readonly HostIpv4Address[];
  /** The data-plane tuning asked for (defaults fill the rest). */
  readonly tuning: Partial<DataplaneTuning>;
  /** TUN queues, each with its Worker pair and sockets. */
  readonly queues: number;
  /** Whether the data plane uses TUN offloads. */
  readonly offload: boolean;
  /** The protocol-41 sockets' buffers, when batches or offloads need larger ones. */
  readonly linkBufferBytes: number | undefined;
  /**
   * Our relay probes' identifier and source (the interface address): the receiving sockets'
   * filter drops their replies, which the probe socket reads.
   */
  readonly probe: { readonly identifier: number; readonly address6: Uint8Array };
}

/** The devices of a run, closed in reverse order of opening when disposed. */
interface RunDevices extends Disposable {
  /** Per queue: the receiving protocol-41 socket, the sending socket, the ICMPv4 socket. */
  readonly sockets: readonly { link: SocketHandle; sender: SocketHandle; icmp: SocketHandle }[];
  /** The first TUN queue. */
  readonly tun: TunHandle;
  /** Further TUN queues. */
  readonly more: readonly TunHandle[];
  /** What the TUN device supports, for the data plane. */
  readonly features: TunOffloadState;
  /** Whether this run created the interface (it goes away with the last fd). */
  readonly created: boolean;
  /** What this run changed on the interface, at start and on reloads, for the last line. */
  readonly changed: Change[];
}

/** A forwarder running, and what the signals act on. */
interface Running {
  /** The data plane. */
  readonly forwarder: Forwarder;
  /** The own IPv4 address followed, and the one queue of address steps and reloads. */
  readonly follower: OwnIpv4Follower;
  /** The control socket, metrics endpoint and systemd notifications. */
  operations?: Operations;
  /** The settings in force (a reload replaces them). */
  settings: PolicySettings;
  /** The relays' probes (a router with relays), switching the egress path on a change. */
  relays?: RelaySupervision;
  /** The timer of the relay probes' ticks, while there are relays to probe. */
  relayTicker?: ReturnType<typeof setInterval>;
  /** Whether the step "supervise" runs (the relays are ticked only then). */
  supervised?: boolean;
  /** Why the data plane failed for good, if it did. */
  fatal?: string;
  /** Resolves when a stop signal came or the data plane failed. */
  readonly stopped: Promise<void>;
  /** Resolves `stopped`. */
  readonly stop: () => void;
}

/**
 * Runs the forwarder until stopped; returns the exit code (0 on a requested stop, 1 when the
 * data plane failed for good, e.g. the TUN was deleted).
 *
 * @param config the effective configuration
 * @param signals the signal wiring
 * @param tuning the data-plane tuning asked for
 * @throws {PolicyError} a configuration-time check failed (exit 2, nothing changed)
 * @throws {SyscallError} a device could not be opened (EPERM: needs root or CAP_NET_ADMIN)
 */
export async function runForwarder(
  config: StfConfig,
  signals: RunSignals,
  tuning: Partial<DataplaneTuning> = {},
): Promise<number> {
  const plan = planRun(config, tuning);
  warnAboutHost(plan);
  using devices = openDevices(plan);
  const running = await startForwarding(plan, devices);
  handleSignals(plan, running, signals);
  try {
    startRelayProbes(plan, running);
    await startOperationsOf(plan, running, signals);
    startFollowing(running);
    dropPrivilegesIfAsked(config);
  } catch (e) {
    await stopForwarding(running);
    throw e;
  }
  await supervise(plan, running);
  await stopForwarding(running);
  printCounters(running.forwarder.counters(), config, "final");
  if (running.fatal !== undefined) {
    throw new OperationError(`Forwarding stopped: ${running.fatal}`);
  }
  log.info("Stopped; {name} {fate}", {
    name: plan.interface.name,
    fate: interfaceFate(devices.created, devices.changed),
  });
  return 0;
}

/**
 * What became of the interface when `run` stopped, for the last log line: removed (this run
 * made it), left as `stf up` made it, or left with what this run changed on it (e.g. another
 * MTU), which a new `stf up` with its own settings reconciles.
 *
 * @param created whether this run created the interface
 * @param changes what this run changed on an interface it attached to
 */
export function interfaceFate(created: boolean, changes: readonly Change[]): string {
  if (created) return "removed";
  if (changes.length === 0) return "left as stf up made it";
  return `left with what this run changed: ${
    changes.map((c) => c.description).join("; ")
  } (\`stf up\` with its settings puts them back)`;
}

/** Step "plan": the interface and the policy from the configuration and the host. */
function planRun(config: StfConfig, tuning: Partial<DataplaneTuning>): RunPlan {
  const host = ipv4AddressesOfHost();
  const plan = planInterface(interfaceRequestOf(config), { ipv4Addresses: host, userIdOf });
  const offload = tuning.offload ?? DEFAULT_TUNING.offload;
  return {
    config,
    interface: plan,
    settings: policySettingsOf(config, plan, host),
    host,
    tuning,
    queues: Math.max(1, Math.floor(tuning.queues ?? 1)),
    offload,
    // Larger buffers for the bursts of batches and super-packets.
    linkBufferBytes: (tuning.batch ?? DEFAULT_TUNING.batch) > 1 || offload
      ? LINK_BUFFER_BYTES
      : undefined,
    probe: { identifier: newProbeIdentifier(), address6: parseIpv6(interfaceAddressOf(plan)) },
  };
}

/** Step "warn": what on the host will hurt the tunnel (kernel tunnel modules, the uplink). */
function warnAboutHost(plan: RunPlan): void {
  for (const module of loadedKernelTunnelModules()) {
    log.warn("The kernel module {module} is loaded: it may claim protocol 41 before stf", {
      module,
    });
  }
  checkUplink(plan.settings, plan.host);
}

/**
 * Step "open": per queue a receiving protocol-41 socket (its filter drops our relay probes'
 * replies and, when there are several queues, keeps its share of the packets), a sending socket and an ICMPv4 socket (each egress Worker keeps its own
 * path MTU table), then the TUN queues, the interface reconciled with the plan.
 */
function openDevices(plan: RunPlan): RunDevices {
  using stack = new DisposableStack();
  const { queues, linkBufferBytes: bufferBytes } = plan;
  const sockets = Array.from({ length: queues }, (_, q) => {
    const link = stack.use(openRawLink({ nonBlocking: true, bufferBytes }));
    attachIngressFilter(link, plan.probe, queues > 1 ? { queue: q, queues } : undefined);
    return {
      link,
      sender: stack.use(openSendLink({ nonBlocking: true, bufferBytes })),
      icmp: stack.use(openIcmpSocket()),
    };
  });
  const { tun, more, features, created, changes } = prepareInterface(
    plan.interface,
    plan.offload,
    queues,
  );
  stack.use(tun);
  for (const t of more) stack.use(t);
  log.info("Interface {name}: {action}", {
    name: plan.interface.name,
    action: created ? "created for this run" : "attached (made by stf up)",
    changes: changes.map((c) => c.kind),
    queues,
  });
  const owned = stack.move();
  return {
    sockets,
    tun,
    more,
    features,
    created,
    changed: [...changes],
    [Symbol.dispose]: () => owned.dispose(),
  };
}

/**
 * Step "start": one Worker per direction and queue on the devices' fds, and the follower of
 * the own IPv4 address (not watching yet), whose steps act on them.
 */
async function startForwarding(plan: RunPlan, devices: RunDevices): Promise<Running> {
  const { sockets, tun, more } = devices;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const running: Omit<Running, "forwarder" | "follower"> = {
    settings: plan.settings,
    stopped,
    stop,
  };
  // Whom to ask for the totals when a Worker tells of I/O errors (set once started).
  const started: { forwarder?: Forwarder } = {};
  const forwarder = await startThreadedForwarder(
    {
      tunName: tun.name,
      tunFeatures: devices.features,
      tunFd: tun.fd,
      linkFd: sockets[0].link.fd,
      sendFd: sockets[0].sender.fd,
      icmpFd: sockets[0].icmp.fd,
      moreQueues: more.map((t, i) => ({
        tunFd: t.fd,
        linkFd: sockets[i + 1].link.fd,
        sendFd: sockets[i + 1].sender.fd,
        icmpFd: sockets[i + 1].icmp.fd,
      })),
    },
    {
      settings: plan.settings,
      icmpSource: interfaceAddressOf(plan.interface),
      onDrop: log.isEnabledFor("debug") ? (sample: DropSample) => logDrop(sample) : undefined,
      onIoErrors: logIoErrors(() => started.forwarder),
      tuning: plan.tuning,
      onFatal: (message) => {
        running.fatal ??= message;
        stop();
      },
    },
  );
  started.forwarder = forwarder;
  const withForwarder = Object.assign(running, { forwarder });
  // The own IPv4 address and SIGHUP reloads, one step at a time (README, "A changing public
  // IPv4"): the policy swapped in both Workers first, then the interface (MTU, address,
  // routes; never torn down), then the status, metrics and systemd.
  const follower = new OwnIpv4Follower({
    config: plan.config,
    plan: plan.interface,
    effects: {
      swapPolicy(planned, icmpSource) {
        // A router keeps the relay its probes chose, not the configuration's first one.
        const relays = withForwarder.relays;
        const next = planned.mode === "router" && relays !== undefined
          ? withRelay(planned, relays.active)
          : planned;
        forwarder.reload(next, icmpSource); // validates first: throws and changes nothing
        withForwarder.settings = next;
        // The probes leave from, and their replies come back to, our addresses now.
        followProbes(plan, devices, withForwarder, next, icmpSource);
      },
      applyPlan(next) {
        const reconciled = applyInterfacePlan(next, { tun: devices.tun }).changes;
        devices.changed.push(...reconciled);
        return reconciled;
      },
      publish: () => withForwarder.operations?.reloaded(factsOf(all)),
    },
  });
  const all: Running = Object.assign(withForwarder, { follower });
  return all;
}

/** What the control socket, the metrics and systemd say about the forwarder. */
function factsOf(running: Running): ForwarderFacts {
  const f = running.follower.facts;
  return {
    mode: running.settings.mode,
    ipv4: formatIpv4(f.plan.ipv4),
    address: `${interfaceAddressOf(f.plan)}/${f.plan.prefixLength}`,
    prefix: f.prefix,
    relay: running.settings.mode === "router" ? running.settings.relay ?? null : null,
    ...(f.paused === undefined ? {} : { ownIpv4Unavailable: f.paused }),
    addressChanges: f.addressChanges,
    prefixHookFailures: f.prefixHookFailures,
  };
}

/**
 * Step "start", continued: the relay probes. A change of active relay reaches the egress path
 * through the forwarder's reload, the path SIGHUP takes (the Workers swap their settings).
 *
 * @throws {SyscallError} when the probe socket cannot be opened
 */
function startRelayProbes(plan: RunPlan, running: Running): void {
  running.relays = startRelaySupervision({
    config: plan.config,
    identifier: plan.probe.identifier,
    source4: plan.settings.bindIpv4 ?? plan.settings.ipv4,
    source6: interfaceAddressOf(plan.interface),
    onActive: (relay) => {
      const next = withRelay(running.settings, relay);
      try {
        running.forwarder.reload(next);
        running.settings = next;
        running.operations?.reloaded(factsOf(running));
      } catch (e) {
        log.error("Cannot switch to relay {relay}: {error}", {
          relay: relay ?? "none",
          error: e instanceof Error ? e.message : String(e),
        });
      }
    },
  });
}

/**
 * After the own address changed: the probes' sources, and the receiving sockets' filter that
 * keeps their replies (now to the new interface address) out of the ingress path.
 */
function followProbes(
  plan: RunPlan,
  devices: RunDevices,
  running: Pick<Running, "relays">,
  settings: PolicySettings,
  icmpSource: string,
): void {
  const address6 = parseIpv6(icmpSource);
  const queues = devices.sockets.length;
  devices.sockets.forEach(({ link }, q) =>
    attachIngressFilter(
      link,
      { identifier: plan.probe.identifier, address6 },
      queues > 1 ? { queue: q, queues } : undefined,
    )
  );
  running.relays?.setSources(settings.bindIpv4 ?? settings.ipv4, icmpSource);
}

/** The settings with another relay for native destinations, or none. */
function withRelay(settings: PolicySettings, relay: string | null): PolicySettings {
  const { relay: _, ...rest } = settings;
  return relay === null ? rest : { ...rest, relay };
}

/** Wires the signals: stop, counters, reload (step "reload" on SIGHUP). */
function handleSignals(plan: RunPlan, running: Running, signals: RunSignals): void {
  signals.onStop(() => running.stop());
  signals.onStats(() => printCounters(running.forwarder.counters(), plan.config, "stats"));
  signals.onReload(() => {
    log.info("Reloading the configuration (SIGHUP)");
    signals.reloadConfig()
      .then((next) => reload(running, next))
      .catch((e) => {
        log.error("Configuration not reloaded, the previous one stays in force: {error}", {
          error: e instanceof Error ? e.message : String(e),
        });
      });
  });
}

/** Step "start", continued: the control socket, the metrics endpoint, systemd's readiness. */
async function startOperationsOf(
  plan: RunPlan,
  running: Running,
  signals: RunSignals,
): Promise<void> {
  const { forwarder } = running;
  running.operations = await startOperations({
    name: plan.interface.name,
    facts: factsOf(running),
    counters: () => forwarder.counters(),
    queueCounters: () => forwarder.queueCounters(),
    healthy: () => running.fatal === undefined,
    relays: () => running.relays?.view() ?? [],
    metrics: plan.config.metrics,
    ...(signals.controlSocket === undefined ? {} : { controlSocket: signals.controlSocket }),
    onWarning: (message) => log.warn("{message}", { message }),
  });
}

/**
 * Step "follow": the rtnetlink watcher of the own IPv4 address starts (it needs no privilege).
 * Where there is no rtnetlink (a restricted sandbox), stf forwards with the address of the
 * start and says so.
 */
function startFollowing(running: Running): void {
  try {
    running.follower.start();
  } catch (e) {
    log.warn("Cannot follow the own IPv4 address: {error}; a change will need SIGHUP", {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/**
 * Step "drop privileges": everything that needs them is open (TUN, raw sockets, metrics port,
 * control socket); the Workers keep their fds. setuid applies to every thread of the process.
 */
function dropPrivilegesIfAsked(config: StfConfig): void {
  if (config.user === null) return;
  const who = dropPrivileges(config.user);
  log.info("Dropped root: now user {user} (uid {uid}, gid {gid})", {
    user: who.name,
    uid: who.uid,
    gid: who.gid,
  });
}

/**
 * Step "supervise": from here a signal is acted on. Prints the counters every
 * `stats-interval` and probes the relays every {@link RELAY_TICK_MS} while there are any, until
 * a stop signal or a failure. Nothing else wakes this thread on a timer: I/O errors are logged
 * when the Workers tell of them ({@link logIoErrors}).
 */
async function supervise(plan: RunPlan, running: Running): Promise<void> {
  const { config } = plan;
  const { settings } = running;
  log.info("Forwarding on {name}: {address}, own IPv4 {ipv4}, mode {mode}", {
    name: plan.interface.name,
    address: interfaceAddressOf(plan.interface),
    ipv4: settings.ipv4,
    mode: settings.mode,
    relay: settings.relay ?? "none",
  });
  const stats = config.statsInterval > 0
    ? setInterval(
      () => printCounters(running.forwarder.counters(), config, "stats"),
      config.statsInterval * 1000,
    )
    : undefined;
  running.supervised = true;
  tickRelaysWhileProbing(running);
  try {
    await running.stopped;
  } finally {
    running.operations?.stopping();
    running.supervised = false;
    tickRelaysWhileProbing(running);
    if (stats !== undefined) clearInterval(stats);
  }
}

/**
 * Ticks the relay probes every {@link RELAY_TICK_MS} while there are relays to probe, and not
 * at all otherwise: an idle stf without relays wakes once a second, not ten times. Called at
 * the start of supervision and after each reload (which may add or remove the relays).
 */
function tickRelaysWhileProbing(running: Running): void {
  const probing = running.supervised === true && (running.relays?.probing ?? false);
  if (probing && running.relayTicker === undefined) {
    running.relayTicker = setInterval(() => running.relays?.tick(), RELAY_TICK_MS);
  } else if (!probing && running.relayTicker !== undefined) {
    clearInterval(running.relayTicker);
    running.relayTicker = undefined;
  }
}

/**
 * Step "reload": through the follower's queue, so that it never interleaves with an address
 * step. The new configuration is planned against the host's addresses now (its address may
 * change: the same steps as a new own IPv4), the settings go to the data plane (validated
 * first: a bad one throws and changes nothing), then the interface is reconciled (MTU,
 * address, routes), never torn down.
 *
 * @throws {RangeError} when the interface's name would change (restart stf)
 * @throws {PolicyError} when the new settings do not compile
 */
async function reload(running: Running, next: StfConfig): Promise<void> {
  // The relays first: the new list decides which relay the settings the follower swaps in
  // carry (its swapPolicy effect puts the active one in).
  running.relays?.reload(next);
  tickRelaysWhileProbing(running);
  await running.follower.reload(next);
  log.info("Configuration reloaded: mode {mode}, relay {relay}", {
    mode: running.settings.mode,
    relay: running.settings.relay ?? "none",
  });
}

/**
 * Step "stop": the address watcher, the relay probes, the Workers, then the control socket and
 * metrics endpoint.
 */
async function stopForwarding(running: Running): Promise<void> {
  await running.follower.close();
  running.relays?.close();
  await running.forwarder.stop();
  await running.operations?.close();
}

/**
 * Logs packets the kernel refused (I/O errors), as a Worker tells of them at its next
 * event-loop turn: about once a second while they go on. These used to be looked for by a
 * timer on this thread, which woke an idle stf every second for a counter that had not moved.
 */
function logIoErrors(forwarder: () => Forwarder | undefined) {
  return (direction: "egress" | "ingress", count: number): void => {
    const total = forwarder()?.counters()[direction].ioErrors ?? count;
    log.warn(
      "{count} {direction} packets refused by the kernel since the last report (I/O errors, {total} in all)",
      { count, direction, total },
    );
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
