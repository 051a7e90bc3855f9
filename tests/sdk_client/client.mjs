// The official TypeScript SDK client (@modelcontextprotocol/sdk) against the real dcc-mcp-server
// (`--conformance-fixtures`): tools, resources, prompts, completion, logging, progress,
// elicitation and sampling, each asserted exactly. Run by scripts/sdk-client.sh:
//   node client.mjs http://127.0.0.1:PORT/mcp
// Exit status 0 when every check passed; the first failed assertion is printed and exits 1.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const url = process.argv[2];
const text = (result) => result.content.map((block) => block.text ?? "").join("");

const client = new Client(
  { name: "dcc-mcp-sdk-client-test", version: "1" },
  { capabilities: { elicitation: {}, sampling: {} } },
);
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  asked.push(request.params.message);
  return { action: "accept", content: { username: "ana", email: "ana@example.com" } };
});
const sampled = [];
client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
  sampled.push(request.params.messages[0].content.text);
  return { role: "assistant", content: { type: "text", text: "a take" }, model: "test-model" };
});
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
  logs.push([notification.params.level, notification.params.data]);
});

const checks = [];
const check = async (name, body) => {
  await body();
  checks.push(name);
};

await client.connect(new StreamableHTTPClientTransport(new URL(url)));

await check("tools", async () => {
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  assert.ok(names.includes("test_simple_text"), names.join(","));
  const simple = await client.callTool({ name: "test_simple_text", arguments: {} });
  assert.equal(simple.isError, false);
  assert.equal(text(simple), "This is a simple text response for testing.");
  const failed = await client.callTool({ name: "test_error_handling", arguments: {} });
  assert.equal(failed.isError, true);
  assert.equal(text(failed), "This tool intentionally returns an error for testing");
});

await check("resources", async () => {
  const read = await client.readResource({ uri: "test://static-text" });
  assert.deepEqual(
    read.contents.map((content) => content.text),
    ["This is the content of the static text resource."],
  );
});

await check("prompts", async () => {
  const got = await client.getPrompt({
    name: "test_prompt_with_arguments",
    arguments: { arg1: "a", arg2: "b" },
  });
  assert.deepEqual(
    got.messages.map((message) => message.content.text),
    ["Prompt with arguments: arg1='a', arg2='b'"],
  );
});

await check("completion", async () => {
  const completed = await client.complete({
    ref: { type: "ref/prompt", name: "test_prompt_with_arguments" },
    argument: { name: "arg1", value: "pa" },
  });
  assert.deepEqual(completed.completion.values, ["paris", "park", "party"]);
});

await check("logging", async () => {
  const result = await client.callTool({ name: "test_tool_with_logging", arguments: {} });
  assert.equal(text(result), "Tool with logging executed successfully");
  // The messages travel on the call's own SSE response, before its result.
  assert.deepEqual(logs, [
    ["info", "Tool execution started"],
    ["info", "Tool processing data"],
    ["info", "Tool execution completed"],
  ]);
});

await check("progress", async () => {
  const seen = [];
  const result = await client.callTool(
    { name: "test_tool_with_progress", arguments: {} },
    undefined,
    { onprogress: (progress) => seen.push([progress.progress, progress.total]) },
  );
  assert.equal(text(result), "Progress reported: 0, 50, 100 of 100");
  assert.deepEqual(seen, [[0, 100], [50, 100], [100, 100]]);
});

await check("elicitation", async () => {
  const result = await client.callTool({
    name: "test_elicitation",
    arguments: { message: "Who are you?" },
  });
  assert.equal(
    text(result),
    'User response: action=accept, content={"email":"ana@example.com","username":"ana"}',
  );
  assert.deepEqual(asked, ["Who are you?"]);
});

await check("sampling", async () => {
  const result = await client.callTool({
    name: "test_sampling",
    arguments: { prompt: "Name this shot" },
  });
  assert.equal(text(result), "LLM response: a take");
  assert.deepEqual(sampled, ["Name this shot"]);
});

await client.close();
console.log(`sdk-client: ${checks.length} of 8 checks passed (${checks.join(", ")})`);
process.exit(checks.length === 8 ? 0 : 1);
