/**
 * Least privilege: once `stf run` holds its devices (the TUN fd and the raw sockets), it no
 * longer needs root. {@link dropPrivileges} switches the whole process to an unprivileged user
 * through libc: `setgroups`, `setgid`, `setuid`, in that order (after `setuid` the process could
 * no longer change its groups), each checked, then verified: the real and effective uid are the
 * user's and `setuid(0)` fails. glibc applies each call to every thread of the process (its
 * set*id broadcast), so Deno's own threads drop too; Workers started later inherit the ids.
 *
 * @module
 */
import { check, openLibc } from "../../ffi/mod.ts";
import { OperationError } from "../errors.ts";

/** Who to become: the ids and the supplementary groups. */
export interface UserIdentity {
  /** The user's name (or its number as text when not in the passwd file). */
  readonly name: string;
  /** The uid. */
  readonly uid: number;
  /** The primary gid. */
  readonly gid: number;
  /** The supplementary groups (the primary gid first). */
  readonly groups: readonly number[];
}

/** Options of {@link resolveUser} and {@link dropPrivileges}. */
export interface DropPrivilegesOptions {
  /** The passwd file's text (default: read `/etc/passwd`). */
  readonly passwd?: string;
  /** The group file's text (default: read `/etc/group`). */
  readonly group?: string;
}

function readOr(path: string, text: string | undefined): string {
  if (text !== undefined) return text;
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * Resolves a user name or uid to its ids from the passwd and group files. A uid absent from
 * the passwd file is used with the gid of the same number and no other group.
 *
 * @param user a name (`nobody`) or a uid (`65534`, or the number)
 * @param options the files' text, for tests
 * @throws {RangeError} when the name is unknown, or the user is root (uid 0)
 */
export function resolveUser(
  user: string | number,
  options: DropPrivilegesOptions = {},
): UserIdentity {
  const text = String(user);
  const numeric = /^\d+$/.test(text);
  let entry: { name: string; uid: number; gid: number } | undefined;
  for (const line of readOr("/etc/passwd", options.passwd).split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) continue;
    if (numeric ? Number(f[2]) === Number(text) : f[0] === text) {
      entry = { name: f[0], uid: Number(f[2]), gid: Number(f[3]) };
      break;
    }
  }
  if (entry === undefined) {
    if (!numeric) {
      throw new RangeError(
        `Cannot run as user "${text}": no such user in /etc/passwd; name an existing user or a uid`,
      );
    }
    entry = { name: text, uid: Number(text), gid: Number(text) };
  }
  if (entry.uid === 0) {
    throw new RangeError(`Cannot drop privileges to "${text}": it is root (uid 0)`);
  }
  if (entry.uid > 0xfffffffe || entry.gid > 0xfffffffe) {
    throw new RangeError(`Cannot run as user "${text}": uid or gid out of range`);
  }
  const groups = [entry.gid];
  for (const line of readOr("/etc/group", options.group).split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2])) continue;
    const gid = Number(f[2]);
    if (f[3].split(",").includes(entry.name) && !groups.includes(gid)) groups.push(gid);
  }
  return { name: entry.name, uid: entry.uid, gid: entry.gid, groups };
}

/**
 * Drops root for good: setgroups (the user's groups), setgid, setuid, each checked, then
 * verifies that the real and effective uid are the user's and that `setuid(0)` fails. Call it
 * after opening the TUN and the sockets, before starting the Workers.
 *
 * @param user a name or a uid
 * @param options the passwd and group files' text, for tests
 * @returns the identity now in force
 * @throws {RangeError} when the user is unknown or root
 * @throws {SyscallError} when a call fails (EPERM: the process lacks CAP_SETUID/CAP_SETGID)
 * @throws {OperationError} when the verification fails
 */
export function dropPrivileges(
  user: string | number,
  options: DropPrivilegesOptions = {},
): UserIdentity {
  const identity = resolveUser(user, options);
  const libc = openLibc().symbols;
  const what = `drop privileges to "${identity.name}"`;
  const hints = { EPERM: "needs root or CAP_SETUID and CAP_SETGID" };
  if (libc.getuid() !== identity.uid || libc.geteuid() !== identity.uid) {
    const list = new Uint32Array(identity.groups);
    check(
      libc.setgroups(BigInt(list.length), new Uint8Array(list.buffer)),
      "setgroups",
      what,
      { hints },
    );
    check(libc.setgid(identity.gid), "setgid", what, { hints });
    check(libc.setuid(identity.uid), "setuid", what, { hints });
  }
  const uid = libc.getuid();
  const euid = libc.geteuid();
  if (uid !== identity.uid || euid !== identity.uid) {
    throw new OperationError(
      `Cannot ${what}: the process still runs as uid ${uid} (effective ${euid})`,
    );
  }
  if (libc.setuid(0) === 0) {
    throw new OperationError(`Cannot ${what}: setuid(0) still succeeds`);
  }
  return identity;
}
