/**
 * libc through Deno FFI: the library, constants, struct layouts and typed errors. Imports
 * nothing of `lib/`.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./libc.ts";
export * from "./structs.ts";
