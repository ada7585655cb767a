import assert from "node:assert/strict";

Deno.test("a Worker opens libc itself and gets errno of its own thread", async () => {
  const worker = new Worker(new URL("./_libc_worker.ts", import.meta.url), { type: "module" });
  try {
    const reply = await new Promise<{ uid: number; code: number }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    assert.deepEqual(reply, { uid: Deno.uid(), code: 9 });
  } finally {
    worker.terminate();
  }
});
