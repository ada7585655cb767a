/**
 * An interface's offload features by name, read with the ethtool ioctl (`SIOCETHTOOL`), as
 * `ethtool -k` shows them: `ETHTOOL_GSSET_INFO` for the number of feature names,
 * `ETHTOOL_GSTRINGS` for the names (`ETH_SS_FEATURES`), `ETHTOOL_GFEATURES` for the bits.
 * Reading needs no privilege.
 *
 * @module
 */
import {
  check,
  encodeIfreq,
  ETH_GSTRING_LEN,
  ETH_SS_FEATURES,
  ETHTOOL_GFEATURES,
  ETHTOOL_GFEATURES_LAYOUT,
  ETHTOOL_GSSET_INFO,
  ETHTOOL_GSTRINGS,
  ETHTOOL_GSTRINGS_LAYOUT,
  ETHTOOL_SSET_INFO,
  IFREQ,
  openLibc,
  SIOCETHTOOL,
} from "../../ffi/mod.ts";
import { withControlSocket } from "./_control.ts";

/** Runs one ethtool command on `name` with `data` as its struct. */
function ethtool(fd: number, name: string, data: Uint8Array<ArrayBuffer>, what: string): void {
  const ifreq = encodeIfreq(name);
  const pointer = Deno.UnsafePointer.value(Deno.UnsafePointer.of(data));
  new DataView(ifreq.buffer).setBigUint64(IFREQ.DATA, BigInt(pointer), true);
  check(openLibc().symbols.ioctl(fd, BigInt(SIOCETHTOOL), ifreq), "ioctl(SIOCETHTOOL)", what);
}

/**
 * The features of an interface and whether each is active, by the kernel's names
 * (`rx-gro-list`, `rx-udp-gro-forwarding`, …).
 *
 * @param name the interface name
 * @throws {SyscallError} when the interface is missing or has no ethtool support
 */
export function interfaceFeatures(name: string): Map<string, boolean> {
  const what = `read the features of "${name}"`;
  return withControlSocket(what, (fd) => {
    const info = new Uint8Array(ETHTOOL_SSET_INFO.SIZE);
    const iv = new DataView(info.buffer);
    iv.setUint32(ETHTOOL_SSET_INFO.CMD, ETHTOOL_GSSET_INFO, true);
    iv.setBigUint64(ETHTOOL_SSET_INFO.MASK, 1n << BigInt(ETH_SS_FEATURES), true);
    ethtool(fd, name, info, what);
    const count = iv.getBigUint64(ETHTOOL_SSET_INFO.MASK, true) === 0n
      ? 0
      : iv.getUint32(ETHTOOL_SSET_INFO.DATA, true);

    const L = ETHTOOL_GSTRINGS_LAYOUT;
    const strings = new Uint8Array(L.DATA + count * ETH_GSTRING_LEN);
    const sv = new DataView(strings.buffer);
    sv.setUint32(L.CMD, ETHTOOL_GSTRINGS, true);
    sv.setUint32(L.SET, ETH_SS_FEATURES, true);
    sv.setUint32(L.LEN, count, true);
    ethtool(fd, name, strings, what);

    const F = ETHTOOL_GFEATURES_LAYOUT;
    const blocks = Math.ceil(count / 32);
    const features = new Uint8Array(F.BLOCKS + blocks * F.BLOCK_SIZE);
    const fv = new DataView(features.buffer);
    fv.setUint32(F.CMD, ETHTOOL_GFEATURES, true);
    fv.setUint32(F.SIZE, blocks, true);
    ethtool(fd, name, features, what);

    const decoder = new TextDecoder();
    const out = new Map<string, boolean>();
    for (let i = 0; i < count; i++) {
      const at = L.DATA + i * ETH_GSTRING_LEN;
      const raw = strings.subarray(at, at + ETH_GSTRING_LEN);
      const end = raw.indexOf(0);
      const feature = decoder.decode(end < 0 ? raw : raw.subarray(0, end));
      if (feature === "") continue;
      const active = fv.getUint32(F.BLOCKS + (i >> 5) * F.BLOCK_SIZE + F.ACTIVE, true);
      out.set(feature, ((active >>> (i & 31)) & 1) === 1);
    }
    return out;
  });
}
