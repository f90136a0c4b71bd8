// hf_tokenize.js: the reference side of the tokenizer tests and benchmark. Same input/output
// format as `prunesweep tokenize`, computed by HuggingFace tokenizers (Rust, via the
// @anush008/tokenizers native bindings).
//   node hf_tokenize.js TOKENIZER.json [--whole] [--decode] [--time] < input
// Lines are split on '\n' only (a '\r' stays in the line); no special tokens are added.
// --time reports encode/decode time only (no load, no I/O) on stderr, one call per line
// (or one call for --whole), as the C side does.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, 'node_modules', '@anush008', 'tokenizers'));

function usage(msg) {
  process.stderr.write(`hf_tokenize.js: ${msg}\nusage: node hf_tokenize.js TOKENIZER.json [--whole] [--decode] [--time]\n`);
  process.exit(2);
}

function splitLines(buf) {
  const lines = [];
  let start = 0;
  for (;;) {
    const i = buf.indexOf(10, start);
    if (i < 0) break;
    lines.push(buf.subarray(start, i));
    start = i + 1;
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

async function main() {
  const args = process.argv.slice(2);
  let file = null, whole = false, decode = false, timing = false;
  for (const a of args) {
    if (a === '--whole') whole = true;
    else if (a === '--decode') decode = true;
    else if (a === '--time') timing = true;
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (file) usage('more than one tokenizer file');
    else file = a;
  }
  if (!file) usage('missing TOKENIZER.json');
  const tok = Tokenizer.fromFile(file);
  const input = fs.readFileSync(0);
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const out = [];
  let seconds = 0, bytes = 0, nIds = 0;
  const units = whole ? [input] : splitLines(input);
  if (!timing && !decode && !whole) {
    // Reference ids only: batches are faster (HF may use several threads; ids are the same).
    for (let i = 0; i < units.length; i += 4096) {
      const texts = units.slice(i, i + 4096).map((u) => fatal.decode(u));
      const encs = await tok.encodeBatch(texts, { addSpecialTokens: false });
      for (const e of encs) out.push(e.getIds().join(' ') + '\n');
    }
    fs.writeFileSync(1, out.join(''));
    return;
  }
  for (const u of units) {
    if (decode) {
      const ids = u.toString('latin1').split(/[ \t\r\n]+/).filter((s) => s.length > 0).map(Number);
      const t0 = process.hrtime.bigint();
      const text = await tok.decode(ids, false);
      seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      bytes += Buffer.byteLength(text);
      out.push(whole ? text : text + '\n');
    } else {
      const text = fatal.decode(u); // throws on invalid UTF-8: the reference cannot take it
      const t0 = process.hrtime.bigint();
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      const ids = enc.getIds();
      bytes += u.length;
      nIds += ids.length;
      out.push(ids.join(' ') + '\n');
    }
  }
  fs.writeFileSync(1, out.join(''));
  if (timing) {
    const what = decode ? `decoded ${bytes} bytes` : `encoded ${bytes} bytes into ${nIds} ids`;
    process.stderr.write(`hf_tokenize: ${what} in ${seconds.toFixed(6)} s (${(bytes / seconds / 1e6).toFixed(2)} MB/s)\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`hf_tokenize.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
