/**
 * The data plane: the egress and ingress paths, their devices (Linux and in-memory fakes), the
 * shared counters and the forwarder's lifecycle.
 *
 * @module
 */
export * from "./types.ts";
export * from "./batch.ts";
export * from "./counters.ts";
export * from "./egress.ts";
export * from "./ingress.ts";
export * from "./fake.ts";
export * from "./forwarder.ts";
export * from "./paths.ts";
export * from "./direction.ts";
export * from "./rate_limit.ts";
export * from "./tier.ts";
export type { DropSample } from "./sample.ts";
