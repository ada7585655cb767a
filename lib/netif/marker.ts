/**
 * What sysfs tells about a link: whether it is a TUN (`tun_flags`), its owner, and the marker
 * that stf made it (its alias, `ifalias`, starts with `stf`).
 *
 * `/sys/class/net` shows the network namespace sysfs was mounted in (`ip netns exec` mounts a
 * fresh one); {@link checkSysfsNamespace} refuses to trust a sysfs of another namespace.
 *
 * @module
 */
import { SyscallError } from "../../ffi/mod.ts";
import { OperationError } from "../errors.ts";

/** The first word of the alias of every interface stf made. */
export const STF_ALIAS_WORD = "stf";

function sysfs(name: string, file: string): string {
  return `/sys/class/net/${name}/${file}`;
}

function readSysfs(name: string, file: string): string | undefined {
  try {
    return Deno.readTextFileSync(sysfs(name, file)).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Returns the `tun_flags` of a TUN/TAP device, or `undefined` when it is not one (or absent).
 *
 * @param name the interface name
 */
export function readTunFlags(name: string): number | undefined {
  const text = readSysfs(name, "tun_flags");
  return text === undefined ? undefined : parseInt(text, 16);
}

/**
 * Returns the uid owning a TUN device, or `undefined` when none is set.
 *
 * @param name the interface name
 */
export function readTunOwner(name: string): number | undefined {
  const text = readSysfs(name, "owner");
  if (text === undefined) return undefined;
  const uid = Number(text);
  return uid < 0 ? undefined : uid;
}

/**
 * Returns the alias of an interface (empty when none).
 *
 * @param name the interface name
 */
export function readAlias(name: string): string {
  return readSysfs(name, "ifalias") ?? "";
}

/**
 * Tells whether an alias is stf's marker: `stf` alone or followed by a space.
 *
 * @param alias the alias
 */
export function isStfAlias(alias: string): boolean {
  return alias === STF_ALIAS_WORD || alias.startsWith(`${STF_ALIAS_WORD} `);
}

/**
 * Sets the alias of an interface (through sysfs, as `ip link set … alias`).
 *
 * @param name the interface name
 * @param alias the alias
 * @throws {SyscallError} EPERM when not allowed
 */
export function writeAlias(name: string, alias: string): void {
  try {
    Deno.writeTextFileSync(sysfs(name, "ifalias"), `${alias}\n`);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new SyscallError(
        "write(ifalias)",
        1,
        `Cannot set the alias of "${name}": EPERM (needs root or CAP_NET_ADMIN)`,
      );
    }
    throw e;
  }
}

/**
 * Checks that `/sys/class/net` shows this network namespace, by comparing the interface
 * index seen there with the kernel's.
 *
 * @param name the interface name
 * @param ifindex its index from `if_nametoindex`
 * @throws {OperationError} when sysfs belongs to another namespace
 */
export function checkSysfsNamespace(name: string, ifindex: number): void {
  const seen = readSysfs(name, "ifindex");
  if (seen === undefined || Number(seen) !== ifindex) {
    throw new OperationError(
      `Cannot inspect "${name}": /sys/class/net shows another network namespace; ` +
        `mount sysfs in this one (as \`ip netns exec\` does)`,
    );
  }
}
