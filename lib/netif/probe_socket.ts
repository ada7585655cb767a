/**
 * The relay probes' own protocol-41 raw socket (`IP_HDRINCL`, non-blocking) with a BPF filter
 * that lets in only Echo Replies carrying our identifier: it sends the probes `lib/relay`
 * writes and reads their replies with the kernel's receive time (`SIOCGSTAMP`), so the RTT
 * does not depend on when the event loop gets round to reading. Used by `run` and `doctor`.
 *
 * @module
 */
import {
  check,
  EAGAIN,
  errno,
  openLibc,
  POLLIN,
  SIOCGSTAMP,
  SO_ATTACH_FILTER,
  SOL_SOCKET,
  writeSockaddrIn,
} from "../../ffi/mod.ts";
import {
  acceptAllInstruction,
  probeReplyDropPrefix,
  probeReplyFilterProgram,
} from "./probe_filter.ts";
import { queueFilterProgram } from "./queue_filter.ts";
import { openRawLink, type SocketHandle } from "./raw_link.ts";

/**
 * Attaches a classic BPF program to a socket (`SO_ATTACH_FILTER`; the kernel copies it).
 *
 * @param socket the socket
 * @param program the instructions, 8 bytes each
 * @param what what the filter is for, for the error message
 * @throws {SyscallError} when the kernel refuses the program
 */
export function attachFilter(socket: SocketHandle, program: Uint8Array, what: string): void {
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (16 bytes, LP64)
  const fprog = new Uint8Array(16);
  const view = new DataView(fprog.buffer);
  view.setUint16(0, program.length / 8, true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(program))), true);
  check(
    openLibc().symbols.setsockopt(socket.fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16),
    "setsockopt(SO_ATTACH_FILTER)",
    what,
  );
}

/**
 * Gives a receiving protocol-41 socket of the data plane its filter: our probes' replies are
 * dropped (the probe socket reads them: they never reach the TUN, and the ingress counters
 * never see them), then, with several queues, the queue's share of the packets.
 *
 * @param socket a receiving protocol-41 socket of the forwarder
 * @param probe our probes' identifier and our 6to4 address
 * @param queue this socket's queue and the number of queues (absent for one queue)
 * @throws {SyscallError} when the kernel refuses the program
 */
export function attachIngressFilter(
  socket: SocketHandle,
  probe: { readonly identifier: number; readonly address6: Uint8Array },
  queue?: { readonly queue: number; readonly queues: number },
): void {
  const prefix = probeReplyDropPrefix(probe.identifier, probe.address6);
  const rest = queue === undefined || queue.queues < 2
    ? acceptAllInstruction()
    : queueFilterProgram(queue.queue, queue.queues);
  const program = new Uint8Array(prefix.length + rest.length);
  program.set(prefix);
  program.set(rest, prefix.length);
  attachFilter(socket, program, "keep probe replies out of the ingress path");
}

/** A packet read from the probe socket, with the kernel's receive time. */
export interface ReceivedProbe {
  /** Bytes read into the buffer. */
  readonly length: number;
  /** When the kernel received it, wall-clock milliseconds. */
  readonly timeMs: number;
}

/** A probe socket (what `lib/relay` calls a `ProbeLink`) over a raw socket, closed once. */
export interface ProbeSocket extends Disposable {
  /** Sends a whole protocol-41 packet (outer header included) to the relay. */
  send(packet: Uint8Array, length: number, relay4: number): void;
  /** Reads one waiting reply into `buf`, or returns `undefined` when none waits. */
  receive(buf: Uint8Array): ReceivedProbe | undefined;
  /** The socket. */
  readonly socket: SocketHandle;
  /** Waits up to `timeoutMs` for a reply to be readable (blocking: for `doctor`). */
  wait(timeoutMs: number): boolean;
  /** Closes the socket. */
  close(): void;
}

/**
 * Opens the probe socket for one identifier.
 *
 * @param identifier the probes' ICMPv6 identifier
 * @throws {SyscallError} EPERM without root or CAP_NET_RAW
 */
export function openProbeSocket(identifier: number): ProbeSocket {
  const socket = openRawLink({ nonBlocking: true });
  const libc = openLibc().symbols;
  try {
    attachFilter(
      socket,
      probeReplyFilterProgram(identifier),
      "let only probe replies into the probe socket",
    );
    // The kernel keeps a packet's receive time for SIOCGSTAMP only once a first SIOCGSTAMP
    // has turned stamping on for the socket (it answers ENOENT then: nothing read yet).
    libc.ioctl(socket.fd, BigInt(SIOCGSTAMP), new Uint8Array(16));
  } catch (e) {
    socket.close();
    throw e;
  }
  const address = new Uint8Array(16);
  const stamp = new Uint8Array(16);
  const stampView = new DataView(stamp.buffer);
  const pollfd = new Uint8Array(8);
  const pollView = new DataView(pollfd.buffer);
  return {
    socket,
    send(packet: Uint8Array, length: number, relay4: number): void {
      writeSockaddrIn(relay4, { target: address });
      check(
        libc.sendto(socket.fd, packet, BigInt(length), 0, address, 16),
        "sendto",
        "send a relay probe",
        { hints: { EPERM: "a firewall rule drops protocol 41" } },
      );
    },
    receive(buf: Uint8Array): ReceivedProbe | undefined {
      const n = libc.recv(socket.fd, buf, BigInt(buf.length), 0);
      if (n < 0) {
        const code = errno();
        if (code === EAGAIN) return undefined;
        check(n, "recv", "read a relay probe reply");
      }
      let timeMs = performance.timeOrigin + performance.now();
      if (libc.ioctl(socket.fd, BigInt(SIOCGSTAMP), stamp) === 0) {
        const seconds = Number(stampView.getBigInt64(0, true));
        const micros = Number(stampView.getBigInt64(8, true));
        if (seconds > 0) timeMs = seconds * 1000 + micros / 1000;
      }
      return { length: n, timeMs };
    },
    wait(timeoutMs: number): boolean {
      pollView.setInt32(0, socket.fd, true);
      pollView.setInt16(4, POLLIN, true);
      pollView.setInt16(6, 0, true);
      const n = libc.poll(pollfd, 1n, Math.max(0, Math.round(timeoutMs)));
      return n > 0;
    },
    close(): void {
      socket.close();
    },
    [Symbol.dispose](): void {
      socket.close();
    },
  };
}
