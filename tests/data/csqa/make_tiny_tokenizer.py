#!/usr/bin/python3
"""Writes tiny_tokenizer.json: a byte-level BPE tokenizer.json in the OLMo 2 layout (cl100k Split
regex + ByteLevel) with a 256-entry byte vocabulary (id = byte value), five merges "Ġ A".."Ġ E"
(ids 256..260, so " A".." E" are single tokens and " F" is two), and the special token
<|endoftext|> (id 261). Small enough that tests/unit/test_prompt.c derives expected ids by hand."""
import json
import os

src = "/work/shared/data/tokenizers/olmo2-dolma2/tokenizer.json"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


b2u = bytes_to_unicode()
vocab = {b2u[b]: b for b in range(256)}
merges = []
for i, c in enumerate("ABCDE"):
    vocab["Ġ" + c] = 256 + i
    merges.append("Ġ " + c)
vocab["<|endoftext|>"] = 261
t = json.load(open(src))
t["added_tokens"] = [{"id": 261, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}]
t["model"]["vocab"] = vocab
t["model"]["merges"] = merges
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_tokenizer.json")
with open(out, "w") as f:
    json.dump(t, f, ensure_ascii=False, indent=1)
    f.write("\n")
