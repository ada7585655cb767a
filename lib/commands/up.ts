/**
 * `stf up`: makes (or reconciles) the persistent stf TUN interface — address
 * `2002:V4:SUBNET::IID/16`, MTU, link up, routes — through libc ioctls, then exits.
 *
 * @module
 */
import { formatIpv6, formatIpv6Prefix } from "../addr/mod.ts";
import {
  applyInterfacePlan,
  type ApplyResult,
  type Change,
  type InterfacePlan,
  type InterfaceRequest,
  ipv4AddressesOfHost,
  loadedKernelTunnelModules,
  planInterface,
  stateToJson,
  userIdOf,
} from "../netif/mod.ts";

/** Options of `stf up`: the interface asked for (from the configuration and flags). */
export interface UpOptions extends InterfaceRequest {
  /** Print the equivalent iproute2 commands and change nothing. */
  readonly dryRun: boolean;
  /** Print the resulting state as JSON. */
  readonly json: boolean;
}

/**
 * Computes the plan of `stf up` on this host (the configuration-time checks included).
 *
 * @param options the command's options
 * @throws {PolicyError} `own-ipv4-not-global`, `own-ipv4-not-local`, `mtu-out-of-range`
 */
export function planUp(options: UpOptions): InterfacePlan {
  return planInterface(options, { ipv4Addresses: ipv4AddressesOfHost(), userIdOf });
}

/** Warns when the kernel's own 6in4 modules are loaded: they would claim protocol 41 too. */
export function warnKernelTunnelModules(): void {
  const loaded = loadedKernelTunnelModules();
  if (loaded.length === 0) return;
  console.error(
    `Warning: the kernel module${loaded.length > 1 ? "s" : ""} ${loaded.join(" and ")} ` +
      `${loaded.length > 1 ? "are" : "is"} loaded: the kernel's sit0 also receives ` +
      `protocol 41 and may answer with ICMP errors; unload with \`modprobe -r sit\` if unused`,
  );
}

function summary(plan: InterfacePlan, result: ApplyResult): string {
  const mtu = result.state?.mtu ?? plan.mtu;
  const routes = plan.routes.map(formatIpv6Prefix);
  return `${formatIpv6(plan.address)}/${plan.prefixLength}, MTU ${mtu}` +
    (routes.length === 0 ? "" : `, routes ${routes.join(" ")}`);
}

function printChanges(changes: readonly Change[]): void {
  for (const c of changes) console.log(c.description);
}

/**
 * Runs `stf up`: reconciles the interface with the options and prints what changed (or the
 * iproute2 commands with `--dry-run`, or the state with `--json`).
 *
 * @param options the command's options
 * @returns the exit code (0); errors are thrown for `main.ts` to report
 * @throws {PolicyError} a configuration-time check failed (exit 2)
 * @throws {OperationError} an interface of that name that stf did not make (exit 1)
 * @throws {SyscallError} the kernel refused (exit 1; EPERM says it needs CAP_NET_ADMIN)
 */
export function runUp(options: UpOptions): Promise<number> {
  // Synchronous work (FFI) reported through a promise, as other commands' actions are.
  try {
    return Promise.resolve(runUpNow(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function runUpNow(options: UpOptions): number {
  const plan = planUp(options);
  warnKernelTunnelModules();
  const result = applyInterfacePlan(plan, { dryRun: options.dryRun });
  if (options.json) {
    const state = result.state;
    const body = options.dryRun || state === undefined
      ? {
        name: plan.name,
        dryRun: options.dryRun,
        changed: result.changes.map((c) => c.description),
        commands: result.changes.map((c) => c.command),
      }
      : stateToJson(state, result.changes);
    console.log(JSON.stringify(body, null, 2));
  } else if (options.dryRun) {
    if (result.changes.length === 0) {
      console.log(`# "${plan.name}" is already up: ${summary(plan, result)}; nothing to do`);
    }
    for (const c of result.changes) console.log(c.command);
  } else if (result.changes.length === 0) {
    console.log(`"${plan.name}" is already up: ${summary(plan, result)}; nothing changed`);
  } else {
    printChanges(result.changes);
    console.log(`"${plan.name}" is up: ${summary(plan, result)}`);
  }
  return 0;
}
