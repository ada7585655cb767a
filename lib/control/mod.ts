/**
 * The operator's side of `stf run`: the control socket that `stf status` asks (`socket.ts`),
 * and the start and stop of the metrics endpoint, the control socket and systemd's
 * notifications together (`operations.ts`).
 *
 * @module
 */
export {
  CONTROL_DIRECTORY,
  controlDirectories,
  type ControlServer,
  controlSocketPath,
  defaultControlSocketPaths,
  type ForwarderStatus,
  INITIAL_NETNS_INODE,
  MAX_CONNECTIONS,
  queryControl,
  type QueryControlOptions,
  type RelayStatus,
  serveControl,
  STATUS_REQUEST,
} from "./socket.ts";
export {
  type ForwarderFacts,
  type Operations,
  type OperationsOptions,
  sitePrefixText,
  startOperations,
} from "./operations.ts";
