// Regenerates olmo2_context_ids.jsonl: HuggingFace tokenizers' ids (npm @anush008/tokenizers,
// native bindings) of AI2's own OLMES contexts in olmes_requests_small.jsonl, with the OLMo 2
// tokenizer. Used by tests/unit/test_prompt.c as the independent reference.
// usage (node_modules lives in tests/tokenizer):
//   NODE_PATH=tests/tokenizer/node_modules node tests/data/csqa/make_olmo2_ids.js /work/shared/data/tokenizers/olmo2-dolma2/tokenizer.json
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("@anush008/tokenizers");
const dir = __dirname;
const tok = Tokenizer.fromFile(process.argv[2]);
const chat = (p) => "<|endoftext|><|user|>\n" + p + "\n<|assistant|>\n";
(async () => {
  const out = [];
  const lines = fs.readFileSync(path.join(dir, "olmes_requests_small.jsonl"), "utf8").trim().split("\n");
  for (const line of lines) {
    const r = JSON.parse(line);
    if (r.idx !== 0) continue;
    const ids = async (s) => (await tok.encode(s)).getIds();
    out.push(JSON.stringify({
      native_id: r.native_id,
      context_ids: await ids(r.context),
      whole_ids: await ids(r.context + r.continuation),
      chat_ids: await ids(chat(r.context)),
    }));
  }
  fs.writeFileSync(path.join(dir, "olmo2_context_ids.jsonl"), out.join("\n") + "\n");
})();
