/**
 * `stf run` following its own IPv4 address (README, "A changing public IPv4"): the rtnetlink
 * watcher's readings become {@link planOwnIpv4} steps, and each step is carried out in one
 * place, one at a time, in the order they came:
 *
 * - `change`: the new policy (own4, own prefix, ICMPv6 source) is swapped into both Workers
 *   first, through the same reload message as SIGHUP's (each Worker switches between two
 *   packets, so a packet is checked against the old policy or the new one, never a mix), so no
 *   packet leaves with the old outer source after that; then the interface is re-addressed
 *   (`2002:NEW:SUBNET::IID/16` added, the old one removed, routes reconciled); one warning
 *   old → new; the status, metrics and systemd `STATUS=` follow; the hook runs.
 * - `pause` / `resume`: egress drops everything as `own-ipv4-unavailable` while the address is
 *   gone (or what replaced it is refused), and forwards again when it is back.
 * - a SIGHUP reload goes through the same queue, so a reload and an address change at the same
 *   moment are applied one after the other, each against the state the other left.
 *
 * The address in force being removed pauses egress at once, without the watcher's settle
 * time; the settled reading then decides (often: the new address, a `change`). That pause is
 * logged at info level; a pause still in force after the settle time is a warning.
 *
 * @module
 */
import { formatIpv4, parseIpv4 } from "../addr/mod.ts";
import type { StfConfig } from "../config/mod.ts";
import type { PolicySettings } from "../filter/mod.ts";
import { getLogger } from "../log.ts";
import type { AddressEvent } from "../netif/address_events.ts";
import {
  type AddressWatcher,
  type AddressWatchOptions,
  watchIpv4Addresses,
} from "../netif/address_watch.ts";
import {
  type Change,
  type HostIpv4Address,
  type InterfacePlan,
  ipv4AddressesOfHost,
  userIdOf,
} from "../netif/mod.ts";
import {
  type OwnIpv4State,
  type OwnIpv4Step,
  planOwnIpv4,
  sitePrefixOf,
} from "../netif/own_ipv4.ts";
import { type PrefixChange, type PrefixHookResult, runPrefixHook } from "./_prefix_hook.ts";
import { interfaceAddressOf, interfaceRequestOf, policySettingsOf } from "./settings.ts";

const log = getLogger(["stf", "run"]);

/** Where the follower stands, for the status, the metrics and systemd. */
export interface FollowFacts {
  /** The interface plan in force (own4, the interface address). */
  readonly plan: InterfacePlan;
  /** The site prefix (`2002:c633:640a::/48`, or the delegated 6rd prefix). */
  readonly prefix: string;
  /** Why egress is paused (`own-ipv4-unavailable`); absent while forwarding. */
  readonly paused?: string;
  /** Changes of the own IPv4 address followed since the start. */
  readonly addressChanges: number;
  /** Runs of the prefix hook that failed. */
  readonly prefixHookFailures: number;
}

/** What the follower does to the running forwarder; `stf run` supplies it. */
export interface FollowEffects {
  /**
   * Swaps the policy in both Workers (the reload message); throws and changes nothing when the
   * settings are refused.
   */
  swapPolicy(settings: PolicySettings, icmpSource: string): void;
  /** Brings the interface to the plan; returns what it changed. */
  applyPlan(plan: InterfacePlan): readonly Change[];
  /** Tells the status, the metrics and systemd. */
  publish(facts: FollowFacts): void;
}

/** Options of {@link OwnIpv4Follower}. */
export interface FollowOptions {
  /** The configuration in force at start. */
  readonly config: StfConfig;
  /** The interface plan applied at start. */
  readonly plan: InterfacePlan;
  /** What a step does to the forwarder. */
  readonly effects: FollowEffects;
  /** Reads the host's IPv4 addresses (default: the real ones). */
  readonly readHost?: () => readonly HostIpv4Address[];
  /** Starts the watcher (default {@link watchIpv4Addresses}; a seam for tests). */
  readonly watch?: (options: AddressWatchOptions) => AddressWatcher;
  /** Runs the hook (default {@link runPrefixHook}; a seam for tests). */
  readonly runHook?: (path: string, change: PrefixChange) => Promise<PrefixHookResult>;
}

/** Follows the own IPv4 address of a running forwarder; see the module comment. */
export class OwnIpv4Follower {
  readonly #options: FollowOptions;
  readonly #readHost: () => readonly HostIpv4Address[];
  #config: StfConfig;
  #state: OwnIpv4State;
  #queue: Promise<void> = Promise.resolve();
  #hooks: Promise<void> = Promise.resolve();
  #watcher: AddressWatcher | undefined;
  #addressChanges = 0;
  #prefixHookFailures = 0;
  #warnedPause: string | undefined;
  #closed = false;

  /**
   * Makes a follower in the state of the start (forwarding with `plan`); {@link start} begins
   * watching.
   *
   * @param options the configuration, the plan applied, the effects
   */
  constructor(options: FollowOptions) {
    this.#options = options;
    this.#readHost = options.readHost ?? ipv4AddressesOfHost;
    this.#config = options.config;
    this.#state = { plan: options.plan };
  }

  /** The facts now. */
  get facts(): FollowFacts {
    const request = interfaceRequestOf(this.#config);
    return {
      plan: this.#state.plan,
      prefix: sitePrefixOf(this.#state.plan.ipv4, request),
      ...(this.#state.paused === undefined ? {} : { paused: this.#state.paused }),
      addressChanges: this.#addressChanges,
      prefixHookFailures: this.#prefixHookFailures,
    };
  }

  /** The configuration in force (the start's, or the last one reloaded). */
  get config(): StfConfig {
    return this.#config;
  }

  /**
   * Opens the rtnetlink watcher and reads the host once (the address may have changed between
   * the plan and now).
   *
   * @throws {SyscallError} when the rtnetlink socket cannot be opened
   */
  start(): void {
    const watch = this.#options.watch ?? watchIpv4Addresses;
    this.#watcher = watch({
      readHost: this.#readHost,
      onEvents: (events) => this.#onEvents(events),
      onChange: (change) => this.#enqueue(() => this.#follow(change.host, true)),
      onError: (error) => {
        log.error(
          "Stopped following the IPv4 address ({error}): a change will need a restart or SIGHUP",
          { error: error.message },
        );
      },
    });
    this.#enqueue(() => this.#follow(this.#readHost(), true));
  }

  /**
   * Applies a reloaded configuration, in turn with the address steps. Resolves when done;
   * rejects (with the state unchanged) when the new configuration cannot be applied.
   *
   * @param next the new configuration
   */
  reload(next: StfConfig): Promise<void> {
    const done = this.#queue.then(() => this.#reload(next));
    this.#queue = done.catch(() => {});
    return done;
  }

  /** Waits until every step queued so far is done (not the hooks). */
  settled(): Promise<void> {
    return this.#queue;
  }

  /** Waits until the hooks started so far have ended. */
  hooksDone(): Promise<void> {
    return this.#hooks;
  }

  /** Stops watching; steps queued are still carried out. Does not wait for hooks. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#watcher?.close();
    await this.#queue;
  }

  #enqueue(task: () => void): void {
    this.#queue = this.#queue.then(() => {
      if (this.#closed) return;
      try {
        task();
      } catch (e) {
        log.error("Cannot follow the IPv4 address change: {error}", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    });
  }

  /** The address our packets leave from: the bind address behind NAT, else own4. */
  #source(): number {
    const bind = this.#config.bindIpv4;
    return bind === null ? this.#state.plan.ipv4 : parseIpv4(bind);
  }

  #onEvents(events: readonly AddressEvent[]): void {
    const source = this.#source();
    if (events.some((e) => e.kind === "removed" && e.address === source)) {
      // Not a packet more from an address the host no longer has: pause now, decide after
      // the settle time.
      this.#enqueue(() => this.#follow(this.#readHost(), false));
    }
  }

  #settingsFor(
    config: StfConfig,
    plan: InterfacePlan,
    host: readonly HostIpv4Address[],
    paused: boolean,
  ): PolicySettings {
    const settings = policySettingsOf(config, plan, host);
    return paused ? { ...settings, ownIpv4Unavailable: true } : settings;
  }

  #step(config: StfConfig, host: readonly HostIpv4Address[]): OwnIpv4Step {
    return planOwnIpv4(this.#state, interfaceRequestOf(config), {
      ipv4Addresses: host,
      userIdOf,
    });
  }

  /** One reading of the host's addresses, carried out. */
  #follow(host: readonly HostIpv4Address[], settled: boolean): void {
    const step = this.#step(this.#config, host);
    this.#carryOut(step, this.#config, host, settled);
  }

  #reload(next: StfConfig): void {
    if (next.interface.name !== this.#config.interface.name) {
      throw new RangeError(
        `Cannot rename the interface from "${this.#config.interface.name}" to ` +
          `"${next.interface.name}" on reload: restart stf`,
      );
    }
    const host = this.#readHost();
    const step = this.#step(next, host);
    this.#carryOut(step, next, host, true, true);
  }

  /**
   * Carries a step out: the policy first (it may refuse: then nothing changed), then the
   * interface, the facts, the log, the hook.
   */
  #carryOut(
    step: OwnIpv4Step,
    config: StfConfig,
    host: readonly HostIpv4Address[],
    settled: boolean,
    reload = false,
  ): void {
    const effects = this.#options.effects;
    const before = this.#state;
    const plan = step.state.plan;
    const paused = step.state.paused !== undefined;
    if (step.kind === "none" && !reload) {
      this.#warnPause(settled);
      return;
    }
    try {
      effects.swapPolicy(
        this.#settingsFor(config, plan, host, paused),
        interfaceAddressOf(plan),
      );
    } catch (e) {
      if (reload) throw e;
      // A new address the policy refuses (outside the 6rd domain, …): pause instead.
      const why = e instanceof Error ? e.message : String(e);
      if (before.paused === why) return;
      effects.swapPolicy(
        this.#settingsFor(config, before.plan, host, true),
        interfaceAddressOf(before.plan),
      );
      this.#state = { plan: before.plan, paused: why };
      effects.publish(this.facts);
      this.#warnPause(settled);
      return;
    }
    this.#config = config;
    this.#state = step.state;
    if (step.kind === "change" || reload) {
      try {
        const changes = effects.applyPlan(plan);
        if (changes.length > 0) {
          log.info("Interface {name} reconciled: {changes}", {
            name: plan.name,
            changes: changes.map((c) => c.description).join("; "),
          });
        }
      } catch (e) {
        // The policy already uses the new address; the interface lags (e.g. root dropped).
        log.error("Cannot re-address {name}: {error}", {
          name: plan.name,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    if (step.kind === "change") {
      this.#addressChanges++;
      this.#warnedPause = undefined;
      log.warn(
        "The own IPv4 address changed: {oldIpv4} → {newIpv4}, prefix {oldPrefix} → {newPrefix}",
        {
          oldIpv4: formatIpv4(step.old.ipv4),
          newIpv4: formatIpv4(step.next.ipv4),
          oldPrefix: step.oldPrefix,
          newPrefix: step.newPrefix,
          interface: plan.name,
        },
      );
    } else if (step.kind === "resume") {
      this.#warnedPause = undefined;
      log.info("The own IPv4 address {ipv4} is back: egress resumes", {
        ipv4: formatIpv4(plan.ipv4),
      });
    } else if (step.kind === "pause" && !settled) {
      log.info("The IPv4 address {ipv4} was removed: egress held until the addresses settle", {
        ipv4: formatIpv4(this.#source()),
      });
    }
    effects.publish(this.facts);
    this.#warnPause(settled);
    if (step.kind === "change") {
      this.#runHook(config, {
        oldPrefix: step.oldPrefix,
        newPrefix: step.newPrefix,
        oldIpv4: formatIpv4(step.old.ipv4),
        newIpv4: formatIpv4(step.next.ipv4),
        interface: plan.name,
      });
    }
  }

  /** A pause still in force after the settle time: one warning per cause. */
  #warnPause(settled: boolean): void {
    const why = this.#state.paused;
    if (!settled || why === undefined || why === this.#warnedPause) return;
    this.#warnedPause = why;
    log.warn("Egress paused (own-ipv4-unavailable): {why}", { why });
  }

  #runHook(config: StfConfig, change: PrefixChange): void {
    const path = config.onPrefixChange;
    if (path === null) return;
    const run = this.#options.runHook ??
      ((p: string, c: PrefixChange) =>
        runPrefixHook(p, c, {
          onOutput: (line, stream) => log.info("{hook}: {line}", { hook: p, line, stream }),
        }));
    // One hook at a time, in the order of the changes.
    this.#hooks = this.#hooks.then(async () => {
      const result = await run(path, change);
      if (result.ok) {
        log.info("The on-prefix-change hook {hook} ran: {oldPrefix} → {newPrefix}", {
          hook: path,
          oldPrefix: change.oldPrefix,
          newPrefix: change.newPrefix,
        });
        return;
      }
      this.#prefixHookFailures++;
      log.error("The on-prefix-change hook {hook} failed ({error}); forwarding goes on", {
        hook: path,
        error: result.error ?? "unknown",
      });
      this.#options.effects.publish(this.facts);
    });
  }
}
