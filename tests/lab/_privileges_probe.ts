/**
 * Lab driver for `dropPrivileges`: opens the protocol-41 raw socket as root, drops to the user
 * named in argv[0], then reports, as one JSON line, the ids of every thread of the process
 * (`/proc/self/task/<tid>/status`), whether the raw socket is still open, and what reopening one
 * gives now.
 *
 * @module
 */
import { openRawLink } from "../../lib/netif/mod.ts";
import { dropPrivileges } from "../../lib/netif/privileges.ts";

const link = openRawLink();
// A Worker started before the drop: its thread must drop too.
const worker = new Worker(
  URL.createObjectURL(new Blob(["self.onmessage = () => self.postMessage('pong');"])),
  { type: "module" },
);
await new Promise((resolve) => {
  worker.onmessage = resolve;
  worker.postMessage("ping");
});
const identity = dropPrivileges(Deno.args[0]);
const field = (text: string, name: string) =>
  text.split("\n").find((l) => l.startsWith(`${name}:`))?.split(/\s+/).slice(1).join(" ") ?? "";
const tasks: string[] = [];
for (const entry of Deno.readDirSync("/proc/self/task")) {
  const status = Deno.readTextFileSync(`/proc/self/task/${entry.name}/status`);
  tasks.push(`${field(status, "Uid")}|${field(status, "Gid")}|${field(status, "Groups")}`);
}
let reopen = "ok";
try {
  openRawLink().close();
} catch (e) {
  reopen = (e as { code?: string }).code ?? String(e);
}
worker.terminate();
console.log(JSON.stringify({
  identity,
  threads: tasks.length,
  ids: [...new Set(tasks)],
  linkFd: link.fd,
  reopen,
}));
link.close();
