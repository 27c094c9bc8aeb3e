// The official LangGraph JavaScript SDK against a running Headwater (node:test).
// HEADWATER_URL says where; tests/e2e/test_js_sdk.py runs this against dev and cluster mode.
// Graphs from tests/graphs/langgraph.json: counter, approval (interrupt), context.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client } from "@langchain/langgraph-sdk";

const url = process.env.HEADWATER_URL;
if (!url) throw new Error("set HEADWATER_URL to the Headwater to test");
const client = new Client({ apiUrl: url });

async function collect(parts) {
  const seen = [];
  for await (const part of parts) seen.push(part);
  return seen;
}

const events = (parts, name) => parts.filter((p) => p.event === name);

test("threads: create, get, update, search, count, delete", async () => {
  const marker = `js-${Date.now()}-${Math.random()}`;
  const thread = await client.threads.create({ metadata: { marker } });
  assert.equal(thread.status, "idle");
  assert.deepEqual((await client.threads.get(thread.thread_id)).metadata, { marker });
  const updated = await client.threads.update(thread.thread_id, { metadata: { more: 1 } });
  assert.deepEqual(updated.metadata, { marker, more: 1 });
  const found = await client.threads.search({ metadata: { marker } });
  assert.deepEqual(found.map((t) => t.thread_id), [thread.thread_id]);
  assert.equal(await client.threads.count({ metadata: { marker } }), 1);
  await client.threads.delete(thread.thread_id);
  await assert.rejects(client.threads.get(thread.thread_id), /404/);
});

test("assistants: system assistant, create, update (new version), schemas, delete", async () => {
  const [system] = await client.assistants.search({ graphId: "counter", metadata: { created_by: "system" } });
  assert.equal(system.graph_id, "counter");
  const assistant = await client.assistants.create({
    graphId: "context",
    context: { model: "js-model" },
    name: "js assistant",
  });
  assert.deepEqual(assistant.context, { model: "js-model" });
  assert.deepEqual(assistant.config.configurable, { model: "js-model" });
  const patched = await client.assistants.update(assistant.assistant_id, { context: { model: "js-2" } });
  assert.equal(patched.version, 2);
  const schemas = await client.assistants.getSchemas(assistant.assistant_id);
  assert.equal(schemas.graph_id, "context");
  assert.ok(schemas.context_schema.properties.model, JSON.stringify(schemas.context_schema));
  const result = await client.runs.wait(null, assistant.assistant_id, { input: {} });
  assert.equal(result.seen.context.model, "js-2");
  assert.equal(result.seen.context.temperature, 0.5); // the schema's default
  await client.assistants.delete(assistant.assistant_id);
  await assert.rejects(client.assistants.get(assistant.assistant_id), /404/);
});

test("runs: stream, wait, create + join, create + joinStream", async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const streamed = await collect(
    client.runs.stream(tid, "counter", { input: { steps: 2 }, streamMode: ["values", "custom"] }),
  );
  assert.equal(streamed[0].event, "metadata");
  assert.deepEqual(events(streamed, "custom").map((p) => p.data.progress), [1, 2]);
  assert.equal(events(streamed, "values").at(-1).data.count, 2);

  const waited = await client.runs.wait(tid, "counter", { input: { steps: 3 } });
  assert.equal(waited.count, 3);

  const run = await client.runs.create(tid, "counter", { input: { steps: 4 } });
  const joined = await client.runs.join(tid, run.run_id);
  assert.equal(joined.count, 4);
  assert.equal((await client.runs.get(tid, run.run_id)).status, "success");

  const runs = await client.runs.list(tid);
  assert.equal(runs.length, 3);

  const other = (await client.threads.create()).thread_id;
  const later = await client.runs.create(other, "counter", {
    input: { steps: 5, delay: 0.2 },
    streamMode: ["values", "custom"],
  });
  const joinedStream = await collect(client.runs.joinStream(other, later.run_id));
  assert.deepEqual(events(joinedStream, "custom").map((p) => p.data.progress), [1, 2, 3, 4, 5]);
});

test("interrupts: the run stops at the question, Command resume answers it", async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const asked = await client.runs.wait(tid, "approval", { input: { request: "deploy", steps: 1 } });
  assert.equal(asked.__interrupt__[0].value.question, "approve deploy?");
  const waiting = await client.threads.get(tid);
  assert.equal(waiting.status, "interrupted");
  const state = await client.threads.getState(tid);
  assert.deepEqual(state.next, ["ask"]);

  const parts = await collect(
    client.runs.stream(tid, "approval", {
      command: { resume: "yes" },
      streamMode: ["updates", "custom"],
    }),
  );
  assert.deepEqual(events(parts, "custom").map((p) => p.data.progress), [1]);
  const done = await client.threads.getState(tid);
  assert.equal(done.values.answer, "yes");
  assert.deepEqual(done.values.work, ["work 1 for yes"]);
  assert.equal((await client.threads.get(tid)).status, "idle");
});

test("store: put, get, search, list namespaces, delete", async () => {
  const ns = ["js", `user${Date.now()}`];
  await client.store.putItem(ns, "fact", { text: "likes tea" });
  const item = await client.store.getItem(ns, "fact");
  assert.deepEqual(item.value, { text: "likes tea" });
  const found = await client.store.searchItems(["js"], { filter: { text: "likes tea" } });
  assert.ok(found.items.some((i) => i.key === "fact" && i.namespace.join("/") === ns.join("/")));
  const spaces = await client.store.listNamespaces({ prefix: ["js"] });
  assert.ok(spaces.namespaces.some((n) => n.join("/") === ns.join("/")));
  await client.store.deleteItem(ns, "fact");
  assert.equal(await client.store.getItem(ns, "fact"), null);
});

test("thread stream: every run of the thread, ending in run_done", async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const stop = new AbortController();
  const seen = [];
  const reading = (async () => {
    try {
      for await (const part of client.threads.joinStream(tid, { signal: stop.signal })) {
        seen.push(part);
        if (part.event === "metadata" && part.data.status === "run_done") break;
      }
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 500)); // connected before the run
  const run = await client.runs.create(tid, "counter", { input: { steps: 2 }, streamMode: ["custom"] });
  const timer = setTimeout(() => stop.abort(), 30_000);
  await reading;
  clearTimeout(timer);
  stop.abort(); // the thread stream never ends on its own: close the connection
  assert.equal(seen[0].event, "metadata");
  assert.equal(seen[0].data.run_id, run.run_id);
  assert.deepEqual(events(seen, "custom").map((p) => p.data.progress), [1, 2]);
  assert.deepEqual(seen.at(-1).data, { status: "run_done", run_id: run.run_id });
});

test("reconnect as useStream does: joinStream with lastEventId -1 replays the whole run", async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  let runId;
  const first = [];
  const reload = new AbortController();
  for await (const part of client.runs.stream(tid, "counter", {
    signal: reload.signal,
    input: { steps: 4, delay: 0.3 },
    streamMode: ["values", "custom"],
    streamResumable: true,
    onDisconnect: "continue",
    onRunCreated: (meta) => {
      runId = meta.run_id;
    },
  })) {
    first.push(part);
    if (part.event === "custom") break; // the page is reloaded mid-run
  }
  reload.abort();
  assert.ok(runId, "onRunCreated gave the run id");
  const replayed = await collect(
    client.runs.joinStream(tid, runId, { lastEventId: "-1", streamMode: ["values", "custom"] }),
  );
  assert.equal(replayed[0].event, "metadata");
  assert.equal(replayed[0].data.run_id, runId);
  assert.deepEqual(events(replayed, "custom").map((p) => p.data.progress), [1, 2, 3, 4]);
  assert.equal(events(replayed, "values").at(-1).data.count, 4);
  assert.equal((await client.runs.get(tid, runId)).status, "success");
});
