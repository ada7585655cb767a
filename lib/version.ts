/**
 * The version of stf, from `deno.json`.
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };

/** The version of stf (semver). */
export const VERSION: string = meta.version;
