/*
 * cfwd: the naive C protocol-41 forwarder that `deno task bench` measures stf against.
 *
 *   cfwd IFNAME PEER_V4
 *
 * It opens the TUN device IFNAME (IFF_TUN | IFF_NO_PI: bare IPv6 packets, no packet
 * information header, no virtio-net header) and one raw IPv4 socket of protocol 41, then moves
 * packets in two threads, one per direction, one system call per packet and per step:
 *
 *   egress:  read() one IPv6 packet from the TUN; sendto() it on the raw socket. The kernel
 *            writes the outer IPv4 header (protocol 41, source chosen by the route), since the
 *            socket is not IP_HDRINCL. The destination is the IPv4 address embedded in a
 *            2002::/16 destination (RFC 3056 §2), else PEER_V4.
 *   ingress: recv() one IPv4 packet from the raw socket (the kernel hands a raw socket the
 *            whole datagram, outer header included); write() what follows the outer header
 *            to the TUN.
 *
 * That is the syscall-bound ceiling of a TUN <-> raw socket design without batches
 * (recvmmsg/sendmmsg) or offloads (IFF_VNET_HDR, GSO/GRO), the things stf adds. It filters
 * nothing (no RFC 3964 checks) and configures nothing: the caller gives the TUN its address,
 * MTU and link state with `ip` after it has started, as bench/_topology.ts does. It runs until
 * killed (SIGTERM or SIGINT end it with the default action). Build: gcc -O2 -pthread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large enough for any IPv4 datagram (total length is 16 bits) and any TUN read. */
#define BUFFER_SIZE 65536

static int tun_fd = -1;
static int raw_fd = -1;
/* PEER_V4, in network byte order: where packets to a non-6to4 destination go. */
static struct in_addr peer;

/* Opens the TUN device `name` (created when missing, attached when it exists). */
static int open_tun(const char *name) {
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("cfwd: open /dev/net/tun");
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("cfwd: TUNSETIFF");
		close(fd);
		return -1;
	}
	return fd;
}

/* TUN → raw socket: one read() and one sendto() per packet. */
static void *egress(void *unused) {
	(void)unused;
	static unsigned char buf[BUFFER_SIZE];
	struct sockaddr_in to;
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	for (;;) {
		ssize_t n = read(tun_fd, buf, sizeof buf);
		if (n <= 0) continue; /* EINTR, EAGAIN or an empty read: try the next one */
		/* A 2002::/16 destination (bytes 24..25 of the IPv6 header) embeds the IPv4
		 * address of its site in the next 32 bits (bytes 26..29): send straight there.
		 * Anything else goes to the configured peer. */
		if (n >= 40 && (buf[0] >> 4) == 6 && buf[24] == 0x20 && buf[25] == 0x02)
			memcpy(&to.sin_addr, buf + 26, 4);
		else
			to.sin_addr = peer;
		/* Errors (no route, a full queue, EMSGSIZE) lose this packet only. */
		(void)sendto(raw_fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
	}
	return NULL;
}

/* Raw socket → TUN: one recv() and one write() per packet. */
static void *ingress(void *unused) {
	(void)unused;
	static unsigned char buf[BUFFER_SIZE];
	for (;;) {
		ssize_t n = recv(raw_fd, buf, sizeof buf, 0);
		if (n < 20) continue; /* an error, or shorter than an IPv4 header */
		size_t header = (size_t)(buf[0] & 0x0f) * 4; /* IHL, in 32-bit words */
		if (header < 20 || header >= (size_t)n) continue;
		/* The payload is the IPv6 packet; the TUN refuses what is not one. */
		(void)write(tun_fd, buf + header, (size_t)n - header);
	}
	return NULL;
}

int main(int argc, char **argv) {
	/* The command line of the first cfwd, which the benchmark calls: further arguments are
	 * ignored, as they were there. */
	if (argc < 3) {
		fprintf(stderr, "usage: cfwd IFNAME PEER_V4\n");
		return 2;
	}
	if (strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "cfwd: interface name \"%s\" is longer than %d bytes\n", argv[1],
			IFNAMSIZ - 1);
		return 2;
	}
	if (inet_pton(AF_INET, argv[2], &peer) != 1) {
		fprintf(stderr, "cfwd: \"%s\" is not an IPv4 address\n", argv[2]);
		return 2;
	}
	tun_fd = open_tun(argv[1]);
	if (tun_fd < 0) return 1;
	/* Protocol 41 (IPv6 in IPv4, RFC 4213): receives every such datagram of the host. */
	raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_IPV6);
	if (raw_fd < 0) {
		perror("cfwd: socket(AF_INET, SOCK_RAW, 41)");
		return 1;
	}
	pthread_t out, in;
	int e = pthread_create(&out, NULL, egress, NULL);
	if (e == 0) e = pthread_create(&in, NULL, ingress, NULL);
	if (e != 0) {
		fprintf(stderr, "cfwd: pthread_create: %s\n", strerror(e));
		return 1;
	}
	/* Neither thread returns: the process lives until a signal ends it. */
	pthread_join(out, NULL);
	return 0;
}
