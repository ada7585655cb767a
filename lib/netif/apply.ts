/**
 * Applies a plan to the kernel (reconciling the actual state), and removes an stf interface.
 * Refuses to touch an interface that stf did not make.
 *
 * @module
 */
import { OperationError } from "../errors.ts";
import { addIpv6Address, deleteIpv6Address } from "./address.ts";
import { disableIpv6LinkLocal, setLinkUp, setMtu } from "./link.ts";
import { writeAlias } from "./marker.ts";
import {
  type Change,
  diffInterface,
  diffRemoval,
  type InterfacePlan,
  type InterfaceState,
  ROUTE_METRIC,
} from "./plan.ts";
import { addIpv6Route, deleteIpv6Route } from "./route.ts";
import { readInterfaceState } from "./state.ts";
import { createOrAttachTun, setTunPersist, STF_TUN_FLAGS, type TunHandle } from "./tun.ts";

/** Options of {@link applyInterfacePlan}. */
export interface ApplyOptions {
  /** Compute the changes only. */
  readonly dryRun?: boolean;
  /**
   * A TUN this process has just created (`stf run` without `stf up`): it is stf's although
   * it has no marker yet. Without it, a missing interface is created persistent.
   */
  readonly tun?: TunHandle;
}

/** What {@link applyInterfacePlan} and {@link removeInterface} did. */
export interface ApplyResult {
  /** The changes made (or, in a dry run, that would be made), in order. */
  readonly changes: readonly Change[];
  /** The state afterwards (in a dry run: before); `undefined` when there is no interface. */
  readonly state: InterfaceState | undefined;
}

function describeForeign(state: InterfaceState): string {
  if (state.tunFlags === undefined) return "it is not a TUN device";
  return state.alias === ""
    ? "it is a TUN device without stf's alias"
    : `it is a TUN device with alias "${state.alias}"`;
}

/**
 * Refuses an interface that stf did not make.
 *
 * @param state the interface's state
 * @param action what we were about to do, e.g. `configure`
 * @param tun a TUN this process created, which counts as stf's
 * @throws {OperationError} when the interface is not stf's
 */
export function assertMadeByStf(state: InterfaceState, action: string, tun?: TunHandle): void {
  if (state.madeByStf) return;
  if (tun !== undefined && tun.created && tun.name === state.name) return;
  throw new OperationError(
    `Cannot ${action} "${state.name}": ${describeForeign(state)}, so stf did not make it; ` +
      `choose another name with --name`,
  );
}

/**
 * Brings the interface to the plan: creates a persistent TUN when missing, then sets owner,
 * alias, MTU, up, address and routes, changing only what differs.
 *
 * @param plan the desired state (from `planInterface`)
 * @param options dry run, or a TUN this process created
 * @throws {OperationError} when an interface of that name exists and stf did not make it
 * @throws {SyscallError} when the kernel refuses a change (EPERM: needs root or CAP_NET_ADMIN)
 */
export function applyInterfacePlan(plan: InterfacePlan, options: ApplyOptions = {}): ApplyResult {
  const before = readInterfaceState(plan.name);
  if (before !== undefined) assertMadeByStf(before, "configure", options.tun);
  // A TUN this process created lives only as long as its fd: its marker is a courtesy for
  // `stf status`, and writing it (sysfs, root-owned) fails for `stf run` with only
  // CAP_NET_ADMIN and CAP_NET_RAW — then it goes without.
  const transient = options.tun !== undefined && options.tun.created &&
    options.tun.name === plan.name;
  const changes = diffInterface(plan, before);
  if (options.dryRun) return { changes, state: before };
  let ifindex = before?.ifindex ?? 0;
  for (const change of changes) {
    switch (change.kind) {
      case "create": {
        using tun = createOrAttachTun(plan.name, {
          flags: STF_TUN_FLAGS,
          owner: plan.owner,
          persist: true,
        });
        ifindex = readInterfaceState(tun.name)?.ifindex ?? 0;
        break;
      }
      case "owner": {
        using _tun = createOrAttachTun(plan.name, {
          flags: before?.tunFlags,
          owner: plan.owner,
        });
        break;
      }
      case "alias":
        try {
          writeAlias(plan.name, plan.alias);
        } catch (e) {
          if (!(transient && e instanceof Error && e.name === "SyscallError")) throw e;
        }
        break;
      case "mtu":
        setMtu(plan.name, plan.mtu);
        break;
      case "up":
        disableIpv6LinkLocal(plan.name);
        setLinkUp(plan.name, true);
        break;
      case "address-delete":
        deleteIpv6Address(plan.name, { ifindex, ...change.address! });
        break;
      case "address-add":
        addIpv6Address(plan.name, { ifindex, ...change.address! });
        break;
      case "route-delete":
        deleteIpv6Route(plan.name, change.route!, { ifindex, metric: ROUTE_METRIC });
        break;
      case "route-add":
        addIpv6Route(plan.name, change.route!, { ifindex, metric: ROUTE_METRIC });
        break;
      case "delete":
        throw new Error("unreachable: a plan never deletes");
    }
  }
  return { changes, state: changes.length === 0 ? before : readInterfaceState(plan.name) };
}

/**
 * Removes an interface that stf made: its routes, its addresses, then the persistent TUN.
 * The TUN is attached first, so that a running `stf run` holding it (EBUSY) is noticed before
 * anything is changed.
 *
 * @param name the interface name
 * @param options dry run
 * @returns no changes when there is no such interface
 * @throws {OperationError} when the interface is not stf's
 * @throws {SyscallError} EBUSY when a running program holds it, EPERM without privileges
 */
export function removeInterface(
  name: string,
  options: { readonly dryRun?: boolean } = {},
): ApplyResult {
  const state = readInterfaceState(name);
  if (state === undefined) return { changes: [], state: undefined };
  assertMadeByStf(state, "delete");
  const changes = diffRemoval(state);
  if (options.dryRun) return { changes, state };
  using tun = createOrAttachTun(name, { flags: state.tunFlags, purpose: "delete" });
  for (const change of changes) {
    switch (change.kind) {
      case "route-delete":
        deleteIpv6Route(name, change.route!, { ifindex: state.ifindex, metric: ROUTE_METRIC });
        break;
      case "address-delete":
        deleteIpv6Address(name, { ifindex: state.ifindex, ...change.address! });
        break;
      case "delete":
        setTunPersist(tun, false);
        break;
      default:
        throw new Error(`unreachable: removal has no "${change.kind}"`);
    }
  }
  tun.close();
  return { changes, state: readInterfaceState(name) };
}
