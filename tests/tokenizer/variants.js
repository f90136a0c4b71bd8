// variants.js: writes tokenizer.json variants that exercise the options the real files do not
// use (ByteLevel's own regex and add_prefix_space, every Split behavior with and without invert,
// String patterns, empty regex matches, ignore_merges, [a, b] merges, normalized and
// non-special added tokens), and the reference ids from HuggingFace tokenizers for each:
//   node variants.js BASE_TOKENIZER.json CORPUS.txt OUTDIR
// For each variant NAME: OUTDIR/NAME.json, OUTDIR/NAME.lines (one line of ids per corpus line)
// and OUTDIR/NAME.whole (the ids of the whole corpus). OUTDIR/list has the names. The probe_*
// variants use OUTDIR/probe.txt as their corpus instead.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, 'node_modules', '@anush008', 'tokenizers'));

const [base, corpus, outdir] = process.argv.slice(2);
if (!outdir) {
  process.stderr.write('usage: node variants.js BASE_TOKENIZER.json CORPUS.txt OUTDIR\n');
  process.exit(2);
}
const full = JSON.parse(fs.readFileSync(base, 'utf8'));
const cl100kRegex = full.pre_tokenizer.pretokenizers[0].pattern.Regex;

// A smaller tokenizer that is still a consistent BPE: the first 8000 merges, the 256 byte
// symbols, the tokens those merges make, and the added tokens, with their original ids (so the
// vocabulary has holes). Loading it is fast, which keeps this test short.
function shrink(t, nMerges) {
  const keep = new Set();
  const bytes = [];
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    bytes.push(b);
    keep.add(printable ? String.fromCodePoint(b) : null);
  }
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    if (!printable) keep.add(String.fromCodePoint(256 + n++));
  }
  keep.delete(null);
  const merges = t.model.merges.slice(0, nMerges);
  for (const m of merges) keep.add(m.split(' ').join(''));
  for (const a of t.added_tokens) keep.add(a.content);
  const vocab = {};
  for (const [k, v] of Object.entries(t.model.vocab)) if (keep.has(k)) vocab[k] = v;
  const out = JSON.parse(JSON.stringify({ ...t, model: { ...t.model, vocab: {}, merges: [] } }));
  out.model.vocab = vocab;
  out.model.merges = merges;
  return out;
}
const src = shrink(full, 8000);
const clone = () => JSON.parse(JSON.stringify(src));
const byteLevel = (aps, useRegex) => ({ type: 'ByteLevel', add_prefix_space: aps, trim_offsets: true, use_regex: useRegex });
const split = (pattern, behavior, invert) => ({ type: 'Split', pattern, behavior, invert });

const variants = {};
{
  const t = clone();
  t.pre_tokenizer = byteLevel(true, true); // GPT-2 style
  variants.gpt2_prefix = t;
}
{
  const t = clone();
  t.pre_tokenizer = byteLevel(false, true);
  variants.gpt2_noprefix = t;
}
{
  const t = clone();
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: cl100kRegex }, 'Isolated', false), byteLevel(true, false)] };
  variants.split_then_prefix = t;
}
for (const beh of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  for (const invert of [false, true]) {
    const t = clone();
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: '\\p{N}+|[.,!?]|\\s' }, beh, invert), byteLevel(false, false)] };
    variants[`beh_${beh}_${invert ? 'inv' : 'plain'}`] = t;
  }
}
{
  const t = clone();
  variants.shrunk_base = t;
}
// Oniguruma's own \s \S \w \W \h \H semantics, in and out of character classes.
for (const [name, re] of [['onig_s', '\\s+'], ['onig_S', '\\S+'], ['onig_w', '\\w+'], ['onig_W', '\\W+'],
  ['onig_h', '\\h+'], ['onig_H', '\\H'], ['onig_class', '[\\w\\s]+|[^\\s\\w]']]) {
  const t = clone();
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: re }, 'Isolated', false), byteLevel(false, false)] };
  variants[name] = t;
}
for (const beh of ['Isolated', 'MergedWithPrevious', 'Contiguous']) {
  const t = clone();
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: '\\d*' }, beh, false), byteLevel(false, false)] };
  variants[`empty_matches_${beh}`] = t;
}
{
  const t = clone();
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ String: ' ' }, 'MergedWithNext', false), split({ Regex: cl100kRegex }, 'Removed', true), byteLevel(false, false)] };
  variants.string_pattern_two_splits = t;
}
{
  const t = clone();
  t.model.ignore_merges = true;
  variants.ignore_merges = t;
}
{
  const t = clone();
  t.model.merges = t.model.merges.map((m) => m.split(' '));
  variants.merges_as_pairs = t;
}
{
  const t = clone();
  const next = Math.max(...t.added_tokens.map((a) => a.id)) + 1;
  const tok = (content, id, special, normalized) =>
    ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special });
  t.added_tokens.forEach((a) => { a.normalized = a.content !== '<|endoftext|>'; });
  t.added_tokens.push(tok('endoftext', next, false, true), tok('xyz abc', next + 1, false, false),
    tok('<|endof', next + 2, true, false), tok('Hello', next + 3, false, false), tok('😀', next + 4, false, true));
  variants.added_tokens_mixed = t;
}

// Boundary probes: no merges and ByteLevel's add_prefix_space, so every piece gets its own "Ġ"
// and the ids show where the pre-tokenizer split. Run on "a<cp>b" for a code point sample
// (every 53rd, plus the letters and digits of Unicode 15/16 that PCRE2 10.42 does not know), they
// compare the character classes of PCRE2 (after our rewriting) with HF's Oniguruma.
const probes = {};
for (const [name, re] of [['cl100k', cl100kRegex], ['L', '\\p{L}+'], ['N', '\\p{N}{1,3}'], ['d', '\\d+'],
  ['w', '\\w+'], ['s', '\\s+(?!\\S)|\\s+'], ['class', '[\\w\\s]+|[^\\p{L}\\p{N}]']]) {
  const t = clone();
  t.model.merges = [];
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: re }, 'Isolated', false), byteLevel(true, false)] };
  variants[`probe_${name}`] = t;
  probes[`probe_${name}`] = true;
}
const probeText = [];
for (let cp = 0x80; cp < 0x110000; cp += 53) if (cp < 0xd800 || cp >= 0xe000) probeText.push(`a${String.fromCodePoint(cp)}b`);
for (const [lo, hi] of [[0x1c89, 0x1c8a], [0xa7cb, 0xa7cd], [0x105c0, 0x105f3], [0x10d40, 0x10d85], [0x11380, 0x113d3],
  [0x116d0, 0x116e3], [0x11bc0, 0x11bf9], [0x11f00, 0x11f5a], [0x13460, 0x13470], [0x16100, 0x16139],
  [0x1ccf0, 0x1ccf9], [0x1d2c0, 0x1d2d3], [0x1e030, 0x1e06d], [0x1e4d0, 0x1e4f9], [0x1e5d0, 0x1e5fa],
  [0x2ebf0, 0x2ebff], [0x31350, 0x31360], [0x323a0, 0x323af], [0x897, 0x897], [0xcf3, 0xcf3], [0x180e, 0x180e]]) {
  for (let cp = lo; cp <= hi; cp++) probeText.push(`a${String.fromCodePoint(cp)}b`, `${String.fromCodePoint(cp)}1 x${String.fromCodePoint(cp)}`);
}

fs.mkdirSync(outdir, { recursive: true });
fs.writeFileSync(path.join(outdir, 'probe.txt'), probeText.join('\n') + '\n');
const text = fs.readFileSync(corpus);
const lines = [];
for (let start = 0; start < text.length;) {
  let i = text.indexOf(10, start);
  if (i < 0) i = text.length;
  lines.push(text.subarray(start, i).toString('utf8'));
  start = i + 1;
}
(async () => {
  for (const [name, t] of Object.entries(variants)) {
    const file = path.join(outdir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(t));
    const tk = Tokenizer.fromFile(file);
    const input = probes[name] ? probeText : lines;
    const encs = await tk.encodeBatch(input, { addSpecialTokens: false });
    fs.writeFileSync(path.join(outdir, `${name}.lines`), encs.map((e) => e.getIds().join(' ') + '\n').join(''));
    const whole = await tk.encode(probes[name] ? probeText.join('\n') + '\n' : text.toString('utf8'), null, { addSpecialTokens: false });
    fs.writeFileSync(path.join(outdir, `${name}.whole`), whole.getIds().join(' ') + '\n');
  }
  fs.writeFileSync(path.join(outdir, 'list'), Object.keys(variants).join('\n') + '\n');
})().catch((e) => {
  process.stderr.write(`variants.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
