/**
 * libc through Deno FFI: the library, constants, struct layouts, typed errors and the fd
 * handle closed once (`fd.ts`). Imports nothing of `lib/`.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./fd.ts";
export * from "./libc.ts";
export * from "./structs.ts";
export * from "./structs_netlink.ts";
